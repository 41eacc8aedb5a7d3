// The project's default prompt sets (data/prompts/, embedded at build time): promised sizes,
// balance, no duplicates, the embedded copy equal to the files, and no sentence equal to any
// instruction or question of the public datasets in shared/data (they were written for the
// project, not copied).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "steer/error.h"
#include "data/sha256.h"
#include "data/source_text.h"
#include "steer/prompts.h"
#include "steer/score_judge.h"
#include "test_paths.h"

namespace steer {
namespace {

namespace fs = std::filesystem;

std::string prompts_dir() {
  return test::source_dir() + "/data/prompts/";
}

// Lowercase, blanks collapsed, trailing punctuation dropped: catches copies that differ only
// in case or spacing.
std::string normalize(const std::string& s) {
  std::string out;
  bool space = false;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isspace(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += char(std::tolower(c));
  }
  while (!out.empty() && (out.back() == '.' || out.back() == '?' || out.back() == '!'))
    out.pop_back();
  return out;
}

TEST(DefaultPrompts, SizesCategoriesAndNoDuplicates) {
  for (const PromptSet& set : {default_harmful(), default_harmless()}) {
    EXPECT_GE(set.size(), 160u) << set.name;
    std::set<std::string> seen;
    std::map<std::string, int> per_category;
    for (const Prompt& p : set.items) {
      EXPECT_TRUE(seen.insert(normalize(p.instruction)).second) << "duplicate: " << p.instruction;
      EXPECT_FALSE(p.category.empty()) << p.instruction;
      ++per_category[p.category];
      EXPECT_EQ(p.instruction.find('\n'), std::string::npos) << "one sentence: " << p.instruction;
    }
    EXPECT_GE(per_category.size(), 10u) << set.name;  // varied categories
  }
  PromptSet harmful = default_harmful();
  EXPECT_EQ(harmful.name, "harmful");
  EXPECT_EQ(harmful.path, "builtin:data/prompts/harmful.json");
  EXPECT_EQ(default_harmless().name, "harmless");
  // The two sets share no prompt.
  std::set<std::string> h;
  for (const Prompt& p : harmful.items) h.insert(normalize(p.instruction));
  for (const Prompt& p : default_harmless().items) EXPECT_FALSE(h.count(normalize(p.instruction)));
}

TEST(DefaultPrompts, HarmlessTextParagraphs) {
  std::vector<std::string> texts = default_harmless_text();
  EXPECT_GE(texts.size(), 40u);
  std::set<std::string> seen;
  for (const std::string& t : texts) {
    EXPECT_TRUE(seen.insert(normalize(t)).second) << "duplicate: " << t;
    size_t sentences = 0;
    for (size_t i = 0; i < t.size(); ++i)
      sentences += (t[i] == '.' || t[i] == '!' || t[i] == '?') && (i + 1 == t.size() || t[i + 1] == ' ');
    EXPECT_GE(sentences, 3u) << t;
    EXPECT_LE(sentences, 5u) << t;
    EXPECT_EQ(t.find('\n'), std::string::npos) << t;
  }
}

TEST(DefaultPrompts, AbSetsAreBalancedCaaFormat) {
  for (const std::string& b : default_ab_behaviours()) {
    ABSet set = default_ab(b);
    EXPECT_EQ(set.name, "caa_" + b + "_ab");
    EXPECT_GE(set.size(), 40u) << b;
    size_t at_a = 0;
    std::set<std::string> seen;
    for (const ABItem& it : set.items) {
      EXPECT_TRUE(seen.insert(it.question).second) << it.question;
      EXPECT_NE(it.question.find("\n\nChoices:\n(A) "), std::string::npos) << it.question;
      EXPECT_NE(it.question.find("\n(B) "), std::string::npos) << it.question;
      at_a += it.answer_matching == "(A)";
      EXPECT_TRUE(it.answer_not_matching == (it.answer_matching == "(A)" ? "(B)" : "(A)"));
    }
    EXPECT_EQ(2 * at_a, set.size()) << b << ": matching answer not balanced over (A)/(B)";
  }
  EXPECT_THROW(default_ab("power-seeking"), Error);
}

TEST(DefaultPrompts, EmbeddedCopiesEqualTheFiles) {
  // The build embeds data/prompts/*.json; a stale embedding would differ from the files.
  struct Case {
    std::string file;
    std::string sha;
  };
  std::vector<Case> cases = {{"harmful.json", default_harmful().sha256},
                             {"harmless.json", default_harmless().sha256},
                             {"caa_refusal_ab.json", default_ab("refusal").sha256},
                             {"caa_sycophancy_ab.json", default_ab("sycophancy").sha256}};
  {
    // default_harmless_text returns strings, so compare the parsed file instead of a hash.
    PromptFormat f;
    f.field = "text";
    EXPECT_EQ(load_prompts(prompts_dir() + "harmless_text.json", f).instructions(), default_harmless_text());
  }
  for (const Case& c : cases) {
    std::string bytes = read_file_bytes(prompts_dir() + c.file, "default prompt file");
    EXPECT_EQ(c.sha, sha256_hex(bytes)) << c.file << " (re-run cmake to re-embed it)";
  }
  // The files load as ordinary user files too, with the same content.
  EXPECT_EQ(load_prompts(prompts_dir() + "harmful.json").instructions(),
            default_harmful().instructions());
  EXPECT_EQ(load_ab_set(prompts_dir() + "caa_sycophancy_ab.json").size(),
            default_ab("sycophancy").size());
}

// Every instruction/question string of the public sets in shared/data.
std::set<std::string> public_sentences() {
  std::set<std::string> out;
  const std::string rd = test::shared_data() + "/refusal_direction/dataset/";
  for (const char* sub : {"splits", "processed", "raw"}) {
    for (const auto& entry : fs::directory_iterator(rd + sub)) {
      std::string path = entry.path().string();
      std::string ext = file_extension_lower(path);
      if (ext != ".json" && ext != ".csv" && ext != ".txt") continue;
      for (const std::string& s : load_prompts(path).instructions()) out.insert(s);
    }
  }
  for (const auto& entry :
       fs::recursive_directory_iterator(test::shared_data() + "/caa/datasets")) {
    std::string path = entry.path().string();
    if (file_extension_lower(path) != ".json") continue;
    std::string name = file_name(path);
    if (name == "generate_dataset.json" || name == "test_dataset_ab.json" ||
        name == "dataset.json") {
      for (const ABItem& it : load_ab_set(path).items) out.insert(it.question);
    } else if (name == "test_dataset_open_ended.json") {
      PromptFormat f;
      f.field = "question";
      for (const std::string& s : load_prompts(path, f).instructions()) out.insert(s);
    } else if (name == "mmlu.json" || name == "truthful_qa.json") {
      PromptFormat f;
      f.field = "prompt";
      for (const std::string& s : load_prompts(path, f).instructions()) out.insert(s);
    }
  }
  return out;
}

TEST(DefaultPrompts, NothingCopiedFromThePublicDatasets) {
  std::set<std::string> exact = public_sentences();
  ASSERT_GT(exact.size(), 35000u);  // the walk really read the shared sets
  std::set<std::string> normalized;
  for (const std::string& s : exact) normalized.insert(normalize(s));

  auto check = [&](const std::string& text, const std::string& what) {
    EXPECT_FALSE(exact.count(text)) << what << " equals a public prompt: " << text;
    EXPECT_FALSE(normalized.count(normalize(text))) << what << " matches a public prompt: " << text;
  };
  for (const Prompt& p : default_harmful().items) check(p.instruction, "harmful.json");
  for (const Prompt& p : default_harmless().items) check(p.instruction, "harmless.json");
  // The plain-text paragraphs, whole and sentence by sentence.
  for (const std::string& para : default_harmless_text()) {
    check(para, "harmless_text.json");
    size_t start = 0;
    while (start < para.size()) {
      size_t end = para.find_first_of(".!?", start);
      end = end == std::string::npos ? para.size() : end + 1;
      std::string sentence = para.substr(start, end - start);
      sentence.erase(0, sentence.find_first_not_of(' '));
      if (!sentence.empty()) check(sentence, "harmless_text.json");
      start = end;
    }
  }
  for (const std::string& b : default_ab_behaviours()) {
    for (const ABItem& it : default_ab(b).items) {
      check(it.question, b);
      // The question's first line alone (before the choices) must not be a public prompt.
      check(it.question.substr(0, it.question.find("\n\nChoices:")), b);
    }
  }
  for (const char* b : {"refusal", "sycophancy", "hallucination"})
    for (const LabelledAnswer& it : hand_labelled_answers(b)) {
      check(it.question, "judge_hand_labelled.json");
      check(it.answer, "judge_hand_labelled.json");
    }
}

}  // namespace
}  // namespace steer
