// Jailbreaks from the inside (Ball et al. 2024, "Understanding Jailbreak Success"; code
// s-ball-10/jailbreak_dynamics): per jailbreak class a vector = mean over harmful prompts of
// act(wrapped) − act(plain) at the last prompt token, every layer; how the classes relate to each
// other, to the harmfulness direction and to the refusal direction; whether each class jailbreaks
// the model; and the paper's cross-mitigation experiment.
//
//   steer::JailbreakOptions o;                          // the project's classes and prompt sets
//   steer::JailbreakRun run = steer::compute_jailbreak_run(*model, o);
//   steer::write_jailbreak_run(run, "runs/jailbreak");  // summary.json, *.csv, *.svg, report.html
//
// A jailbreak class is a template (JailbreakClass) that wraps a harmful request; placeholders
// name the request: {prompt}, and derived forms {prompt_base64}, {prompt_leetspeak},
// {prompt_disemvowel}, {prompt_part1} / {prompt_part2} (the request split at the middle word).
// The placeholder's base word is configurable ("forbidden_prompt" reads StrongREJECT's files).
//
// What is measured (the hook site is hook_resid_post, the block output the paper's wrapper reads):
//   jailbreak vector   v_c[l] = mean_i act_l(wrap_c(p_i)) − act_l(p_i), last prompt token, float64
//   harmfulness        h[l] = mean act_l(harmful) − mean act_l(harmless), last instruction token
//   refusal            r from a `steer refusal` run (its one layer), when given
//   refusal rates      wrapped vs plain, greedy completions: the substring judge, the first-token
//                      refusal score (> 0 counts as refusing), and an optional model judge; 95 %
//                      bootstrap intervals over prompts
//   suppression        mean projection of wrapped and of plain prompts on ĥ[l] (last instruction
//                      token), per layer: does the class lower the model's perception of harm?
//   analyses           cosine matrix of the class vectors at `layer`, the mean pairwise cosine at
//                      every layer, each vector's cosine with h[layer] and r, 2-D PCA of the vectors
//   cross-mitigation   for each (X, Y): greedy completions of class-Y wrapped prompts while
//                      −v̄_X is added at `layer`, positions after the instruction, with v̄_X = v_X
//                      rescaled to the classes' mean norm at `layer`; attack success = the
//                      substring judge says it did not refuse. Control rows: unsteered, a random
//                      vector of the mean norm (seeded), and the refusal direction at the mean
//                      norm added (when given). Every (condition, class, prompt) is one row of one
//                      batched generation, each condition's steering limited to its rows.
//
// Failure: steer::Error naming the option (check_jailbreak_options, before a model loads), the
// templates file and entry (a missing or unknown placeholder, malformed JSON), a model without a
// chat template, a refusal direction of another d_model.
#pragma once
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "steer/directions.h"
#include "steer/refusal_judge.h"
#include "steer/stats.h"

namespace steer {

class Model;

// ---- templates ---------------------------------------------------------------------------

struct JailbreakClass {
  std::string name;
  std::string text;                     // the template, with at least one placeholder
  std::string placeholder = "prompt";   // the base word: {prompt}, {prompt_base64}, …
};

// The project's own classes (data/prompts/jailbreak_templates.json): prefix_injection,
// refusal_suppression, style_injection, roleplay_persona, distractors, payload_split, few_shot,
// base64, disemvowel, translation, adversarial_suffix.
std::vector<JailbreakClass> default_jailbreak_classes();

// A JSON object file {name: template}. steer::Error naming the file (and the entry) for bad
// JSON, a non-object, a non-string value, an empty name, a template without a placeholder or
// with an unknown {<placeholder>_…} form.
std::vector<JailbreakClass> load_jailbreak_templates(const std::string& path, const std::string& placeholder = "prompt");
std::vector<JailbreakClass> parse_jailbreak_templates(const std::string& json_text, const std::string& source,
                                                      const std::string& placeholder = "prompt");
// `base` with each of `extra` added, or replacing the class of the same name (in place).
std::vector<JailbreakClass> merge_jailbreak_classes(std::vector<JailbreakClass> base,
                                                    const std::vector<JailbreakClass>& extra);
// The template with every placeholder filled in, in one pass (placeholder text inside the
// request is not replaced again). steer::Error naming the class when it has no placeholder.
std::string render_jailbreak(const JailbreakClass& c, const std::string& prompt);
// True when the template is only the bare placeholder (StrongREJECT's "none"): it wraps nothing.
bool is_identity_template(const JailbreakClass& c);

// Encodings the templates use (exact, byte-level).
std::string base64_encode(const std::string& bytes);
// steer::Error on a character outside the base64 alphabet or bad padding.
std::string base64_decode(const std::string& text);
// a→4 e→3 i→1 o→0 s→5 t→7 (either case; other bytes unchanged).
std::string leetspeak(const std::string& text);
// The inverse for text leetspeak wrote from lowercase letters without digits: 4→a 3→e 1→i 0→o 5→s 7→t.
std::string unleetspeak(const std::string& text);
// Drops the ASCII vowels a, e, i, o, u (either case).
std::string disemvowel(const std::string& text);

// ---- the run -----------------------------------------------------------------------------

struct JailbreakOptions {
  std::vector<JailbreakClass> classes;          // empty: default_jailbreak_classes()
  std::vector<std::string> harmful, harmless;   // empty: the project's default sets
  // Default sizes, from a measured small run on qwen2.5-coder-0.5b (AVX2 EPYC, f32, --threads 1 on
  // a loaded 2-vCPU machine: --n 8 --mitigation-n 4 --max-tokens 24 took 19 min 48 s, 15.5 min of it
  // cross-mitigation): 12 × 32 completions and 13 × 11 × 6 cross-mitigation rows of 32 tokens,
  // estimated at ~45 min there and about half that on a quiet machine with 2 threads.
  size_t n_prompts = 32;       // harmful prompts per class (vectors and refusal rates)
  size_t n_harmless = 32;      // harmless prompts for the harmfulness direction
  size_t n_mitigation = 6;     // class-Y prompts per cross-mitigation cell
  std::vector<std::string> mitigation_classes;  // classes in the matrix (empty: all)
  bool mitigation = true;      // run the cross-mitigation matrix
  int layer = -1;              // steering / cosine layer; -1: round(19/40 · n_layers) as the paper
  int max_new_tokens = 32;     // per completion (refusal rates and cross-mitigation)
  std::optional<DirectionSet> refusal;          // a refusal direction (one layer)
  const RefusalJudge* judge = nullptr;          // an optional model judge for the refusal rates
  ThinkingOptions thinking;                     // CoT judging for every judge
  uint64_t seed = 42;          // prompt sample and the random control vector
  int batch_size = 32;
  bool progress = true;
  std::string note;
};

struct JailbreakClassResult {
  std::string name;
  Interval refusal_plain, refusal_wrapped;           // substring judge, over judged completions
  Interval score_refusal_plain, score_refusal_wrapped;  // share with first-token refusal score > 0
  double mean_score_plain = 0, mean_score_wrapped = 0;  // mean first-token refusal score
  std::optional<Interval> judge_plain, judge_wrapped;   // the model judge, when given
  VerdictCounts substring_counts, judge_counts;         // wrapped completions
  double cos_harmfulness = 0;                    // cos(v_c[layer], h[layer])
  std::optional<double> cos_refusal;             // cos(v_c[layer], r), with a refusal direction
  double norm = 0;                               // |v_c[layer]|
  std::vector<double> proj_plain, proj_wrapped;  // per layer: mean projection on ĥ[l]
  std::vector<std::string> prompts, completions;  // wrapped prompts and their completions
};

struct CrossMitigation {
  std::vector<std::string> names;               // the classes (rows X and columns Y)
  std::vector<std::vector<double>> asr;         // [X][Y] attack success, −v̄_X on class Y
  std::vector<double> unsteered, random_control, refusal_added;  // [Y]; refusal_added empty without r
  size_t n = 0;                                 // prompts per cell
  double norm = 0;                              // the mean norm the vectors were scaled to
};

struct JailbreakRun {
  int layer = 0, n_layers = 0;
  std::vector<JailbreakClassResult> classes;
  std::map<std::string, at::Tensor> vectors;    // class → [n_layers, d_model] float64
  at::Tensor harmfulness;                       // [n_layers, d_model] float64
  std::vector<std::vector<double>> cosine;      // [class][class] at `layer`
  std::vector<double> mean_pairwise_cosine;     // per layer, over class pairs
  std::vector<std::array<double, 2>> pca;       // per class: its coordinates on PC1, PC2
  std::array<double, 2> pca_explained{};        // share of variance PC1, PC2
  std::vector<double> plain_completions_refused;  // per plain prompt (substring), for reference
  std::optional<CrossMitigation> mitigation;
  nlohmann::json metadata;
};

// The option bounds compute_jailbreak_run checks first: steer::Error naming the option.
void check_jailbreak_options(const JailbreakOptions& options);

JailbreakRun compute_jailbreak_run(const Model& model, const JailbreakOptions& options);

// One cross-mitigation generation: targets[y] are class y's wrapped prompt texts, conditions are
// (name, vector [d_model] added at `layer` hook_resid_post after the instruction; undefined = none)
// — every (condition, y, prompt) one row of one batched generation. Returns, per condition and
// class, the attack-success rate by the substring judge (with `thinking`) and the completions.
struct MitigationCondition {
  std::string name;
  at::Tensor vector;  // undefined: unsteered
};
struct MitigationResult {
  std::vector<std::vector<double>> asr;                            // [condition][y]
  std::vector<std::vector<std::vector<std::vector<int32_t>>>> ids;  // [condition][y][prompt] tokens
};
MitigationResult run_mitigation(const Model& model, const std::vector<std::vector<std::string>>& targets,
                                const std::vector<MitigationCondition>& conditions, int layer, int max_new_tokens,
                                int batch_size, const ThinkingOptions& thinking, bool progress);

// summary.json (contract: "layer", "classes": {name: {"refusal_rate_plain", "refusal_rate_wrapped",
// "cos_harmfulness", "cos_refusal", …}}, "cosine_matrix": {"names", "values"},
// "mean_pairwise_cosine", "cross_mitigation": {"names", "asr", "random_control", "unsteered", …}),
// vectors/<class>.safetensors and vectors/harmfulness.safetensors (steer direction files, one vector
// per layer at hook_resid_post: `steer generate --add` reads them), classes.csv,
// cosine.csv, cosine_by_layer.csv, suppression.csv, pca.csv, cross_mitigation.csv,
// completions.json; cosine.svg, cosine_by_layer.svg, refusal_rates.svg, suppression.svg,
// pca.svg, cross_mitigation.svg; report.html. All or nothing (a RunFolder).
void write_jailbreak_run(const JailbreakRun& run, const std::string& out_dir);

}  // namespace steer
