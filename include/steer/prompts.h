// steer prompt sets: loading the instruction, A/B and StereoSet files the steering methods
// run on, the project's own default sets, and Python-compatible seeded sampling.
//
//   steer::PromptSet harmful = steer::load_prompts("advbench.csv");        // preset detected
//   steer::PromptFormat fmt;
//   fmt.field = "text";
//   steer::PromptSet mine = steer::load_prompts("my.jsonl", fmt);
//   steer::ABSet ab = steer::load_ab_set("generate_dataset.json");         // CAA format
//   steer::Sampler rng(42);
//   std::vector<steer::Prompt> train = rng.sample(harmful.items, 128);
//
// File formats (PromptFormat::format, or detected from the extension, then the content):
//   text   one prompt per line; blank lines and lines whose first non-blank character is '#'
//          are skipped; a trailing '\r' is removed, nothing else is trimmed.
//   json   a list of strings, or a list of objects (the prompt is one field of each object).
//   jsonl  one JSON string or object per line; blank lines are skipped.
//   csv    RFC 4180: a header row, ',' separators, "quoted" fields that may hold commas,
//          doubled quotes ("") and line breaks, CRLF or LF line ends, a UTF-8 BOM is ignored.
// Extensions: .txt → text, .json → json, .jsonl/.ndjson → jsonl, .csv → csv. Any other
// extension: content starting with '[' is json, with '{' is json when the whole file parses
// as one value and jsonl otherwise, anything else is text (CSV is never guessed).
//
// Presets name the standard datasets' fields (PromptFormat::preset). Without a preset and
// without a field, the first preset, in the order of this table, whose fields are all present
// in the CSV header / the first JSON object is used:
//   harmbench          Behavior (+ ContextString), category SemanticCategory, id BehaviorID.
//                      A non-empty ContextString is put before the behavior as HarmBench's
//                      own test cases do: "{ContextString}\n\n---\n\n{Behavior}".
//   jailbreakbench     Goal, category Category, id Behavior
//   advbench           goal (no category)
//   strongreject       forbidden_prompt, category category
//   alpaca             instruction + input, joined as "{instruction}\n\n{input}" when input is
//                      non-empty (Alpaca's own prompt puts the input in a separate section
//                      after the instruction); output is ignored
//   refusal_direction  instruction, category category (null → "")
// A list of strings and a text file need no preset. PromptFormat::field names the prompt field
// of any JSON/JSONL/CSV file instead (category from category_field, else a field named
// "category" or "Category" when present).
//
// Every loader reads the whole file, fails with steer::Error naming the file, the 1-based
// line / row / item and the field, with a hint, and fails on an empty result. Prompts are
// kept byte for byte as the file has them (no trimming), so results match the datasets'
// own Python loaders.
//
// The default sets (data/prompts/ in the source tree, embedded into the library at build
// time so they work from any directory) were written for this project; they are not taken
// from any public dataset. See data/prompts/README.md.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace steer {

// One plain instruction prompt.
struct Prompt {
  std::string instruction;  // the user message, exactly as in the file (see presets above)
  std::string category;     // the dataset's category, "" when it has none
  std::string source_id;    // the dataset's id (HarmBench BehaviorID, JBB Behavior), else
                            // "<file name>:<1-based item/row/line>"
};

// A loaded prompt file, with what provenance metadata needs.
struct PromptSet {
  std::string name;    // file name without directory and extension ("advbench"); default
                       // sets: "harmful", "harmless"
  std::string path;    // the path as given; default sets: "builtin:data/prompts/<file>"
  std::string sha256;  // lowercase hex SHA-256 of the file's bytes
  std::vector<Prompt> items;

  size_t size() const { return items.size(); }
  std::vector<std::string> instructions() const;  // items[i].instruction, in order
};

// One CAA A/B item. answer_matching is the choice that shows the behaviour.
struct ABItem {
  std::string question;             // includes the "(A) … (B) …" choices
  std::string answer_matching;      // "(A)", "(B)", … (surrounding blanks removed)
  std::string answer_not_matching;  // the other choice
};

struct ABSet {
  std::string name;  // file name without extension, or "caa_<behaviour>_ab" for defaults
  std::string path;
  std::string sha256;
  std::vector<ABItem> items;

  size_t size() const { return items.size(); }
};

// One StereoSet intrasentence item: a context with a BLANK and its three fillings.
struct StereoItem {
  std::string id;          // the StereoSet id of the item
  std::string target;      // the group term ("schoolgirl", "Ethiopian")
  std::string bias_type;   // "gender", "race", "religion", "profession"
  std::string context;     // the sentence with "BLANK"
  std::string stereotype;       // the sentence with the stereotyped filling
  std::string anti_stereotype;  // … with the anti-stereotyped filling
  std::string unrelated;        // … with an unrelated filling (the meaningless option)
};

enum class FileFormat { kAuto, kText, kJson, kJsonl, kCsv };

// How to read a prompt file. All fields are optional.
struct PromptFormat {
  FileFormat format = FileFormat::kAuto;
  std::string preset;          // one of prompt_presets(), "" to detect
  std::string field;           // the prompt field of a JSON/JSONL/CSV file; overrides preset
  std::string category_field;  // with field: where the category is ("" → "category"/"Category")
};

// Loads instruction prompts. Throws steer::Error (file, line/row/item, field, hint) on an
// unreadable file, a malformed file, a missing or wrongly typed field, an empty prompt, an
// unknown preset, or when no prompt is found.
PromptSet load_prompts(const std::string& path, const PromptFormat& format = {});

// The non-empty lines of a text file, as they are (no comments, no trimming): `steer generate
// --prompt-file`. The file must be a regular file of at most 256 MiB; steer::Error naming
// `what` and the path otherwise.
std::vector<std::string> read_nonempty_lines(const std::string& path, const std::string& what);

// As load_prompts, for bytes already in memory. `source` names them in errors and becomes
// PromptSet::path; its extension drives format detection as for a path.
PromptSet parse_prompts(const std::string& bytes, const std::string& source,
                        const PromptFormat& format = {});

// Preset names, in detection order: harmbench, jailbreakbench, advbench, strongreject, alpaca,
// refusal_direction.
const std::vector<std::string>& prompt_presets();

// Parses a format name ("auto", "text", "json", "jsonl", "csv"); throws naming `option`.
FileFormat parse_file_format(const std::string& name, const std::string& option = "--format");

// Loads a CAA A/B file: a JSON list (or JSONL) of {question, answer_matching_behavior,
// answer_not_matching_behavior}. Answers must be "(X)" with X a capital letter (blanks around
// them are removed, as CAA's raw/ files have " (A)"), must differ, and must both occur in the
// question. CAA's MMLU / TruthfulQA files ({prompt, correct, incorrect}, extra fields ignored)
// load the same way, the correct answer as the matching one. Throws steer::Error otherwise, or
// when the file has no item.
ABSet load_ab_set(const std::string& path);
ABSet parse_ab_set(const std::string& bytes, const std::string& source);

// Loads StereoSet intrasentence items from the EditBias files (a JSON list of {id, target,
// bias_type, context, data: {stereotype, anti-stereotype, unrelated: {sentence, id}}}) or from
// StereoSet's own dev/test.json ({data: {intrasentence: [{…, sentences: [{sentence,
// gold_label}]}]}}; a list item with "sentences" and no "data" is read that way too).
// Throws steer::Error naming the file, the 1-based item and the field.
std::vector<StereoItem> load_stereoset(const std::string& path);

// The project's default sets (embedded; see data/prompts/README.md). Sizes: harmful ≥ 160,
// harmless ≥ 160, each A/B set ≥ 40 with the matching answer split evenly over (A) and (B).
PromptSet default_harmful();
PromptSet default_harmless();
// The project's plain harmless text (data/prompts/harmless_text.json): ≥ 40 short explanatory
// paragraphs on everyday topics, for the language-model loss on ordinary text (the paper's
// Pile loss; steer::text_loss).
std::vector<std::string> default_harmless_text();
// behaviour: "refusal" or "sycophancy" (see default_ab_behaviours()); throws otherwise.
ABSet default_ab(const std::string& behaviour);
const std::vector<std::string>& default_ab_behaviours();

// Seeded sampling that reproduces Python's `random` module exactly: Sampler(s) is
// `random.seed(s)` (MT19937 seeded by init_by_array with the seed's 32-bit words, low word
// first), sample_indices(n, k) is the index sequence `random.sample(range(n), k)` returns, and
// shuffle_indices(n) is `x = list(range(n)); random.shuffle(x)`. Draws advance one shared
// state, so a sequence of calls equals the same sequence of Python calls after one seed —
// which is how andyrdt/refusal_direction draws its 128+128 train and 32+32 val prompts
// (random.seed(42), then sample harmful_train, harmless_train, harmful_val, harmless_val).
// Deterministic across platforms: only 32-bit integer arithmetic and one log() to pick
// Python's branch (k·3 is never a power of 4, so rounding cannot flip it).
class Sampler {
 public:
  explicit Sampler(uint64_t seed);

  // k distinct indices below n, in selection order. k > n gives all n indices, shuffled
  // (as random.sample(range(n), n)).
  std::vector<size_t> sample_indices(size_t n, size_t k);
  std::vector<size_t> shuffle_indices(size_t n);
  // Python's random.getrandbits(bits) for 0 < bits ≤ 32, and _randbelow(n) for n ≥ 1.
  uint32_t getrandbits(int bits);
  uint64_t randbelow(uint64_t n);

  template <class T>
  std::vector<T> sample(const std::vector<T>& items, size_t k) {
    std::vector<T> out;
    for (size_t i : sample_indices(items.size(), k)) out.push_back(items[i]);
    return out;
  }

 private:
  uint32_t next_u32();
  std::array<uint32_t, 624> mt_{};
  size_t index_ = 624;
};

// random.seed(seed); random.sample(items, min(k, len(items))) — a fresh Sampler per call.
template <class T>
std::vector<T> sample(const std::vector<T>& items, size_t k, uint64_t seed) {
  Sampler rng(seed);
  return rng.sample(items, k);
}

// The four prompt lists the refusal-direction pipeline extracts and selects on.
struct RefusalSplits {
  std::vector<Prompt> harmful_train, harmless_train, harmful_val, harmless_val;
};

// Draws the refusal_direction pipeline's train/val prompts from separate train and val
// pools, in its order and with its shared random state (defaults: 128 + 128 train, 32 + 32
// val, seed 42). With the shared refusal_direction splits this picks the very prompts the
// paper's code picks. Throws steer::Error when a pool is empty.
RefusalSplits sample_refusal_splits(const PromptSet& harmful_train_pool,
                                    const PromptSet& harmless_train_pool,
                                    const PromptSet& harmful_val_pool,
                                    const PromptSet& harmless_val_pool, size_t n_train = 128,
                                    size_t n_val = 32, uint64_t seed = 42);

// The same from one harmful and one harmless pool (e.g. the default sets or AdvBench +
// Alpaca): per pool, one sample of n_train + n_val prompts (harmful first, then harmless, from
// one Sampler), split into its first n_train and the next n_val, so train and val never share
// a prompt. Throws steer::Error when a pool has fewer than n_train + n_val prompts.
RefusalSplits split_refusal_prompts(const PromptSet& harmful, const PromptSet& harmless,
                                    size_t n_train = 128, size_t n_val = 32, uint64_t seed = 42);

}  // namespace steer
