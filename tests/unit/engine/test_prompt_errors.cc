// Malformed prompt, A/B and StereoSet files: each must give a steer::Error whose message names
// the file, the 1-based line/row/item and the field, and carries a hint.
#include <gtest/gtest.h>

#include <fstream>

#include "steer/error.h"
#include "steer/prompts.h"

namespace steer {
namespace {

struct Caught {
  std::string message;
  std::string hint;
};

template <class Fn>
Caught caught(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return {e.what(), e.hint()};
  }
  ADD_FAILURE() << "expected steer::Error";
  return {};
}

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

PromptSet prompts(const std::string& bytes, const std::string& source,
                  const std::string& preset = "", const std::string& field = "") {
  PromptFormat f;
  f.preset = preset;
  f.field = field;
  return parse_prompts(bytes, source, f);
}

TEST(PromptErrors, MissingCsvColumnListsTheHeader) {
  Caught c = caught([] { prompts("a,b,c\n1,2,3\n", "adv.csv", "advbench"); });
  EXPECT_HAS(c.message, "adv.csv: missing column 'goal' in CSV header [a, b, c]");
  EXPECT_HAS(c.hint, "--field");
  c = caught([] { prompts("a,b,c\n1,2,3\n", "x.csv", "", "prompt"); });
  EXPECT_HAS(c.message, "x.csv: missing column 'prompt' in CSV header [a, b, c]");
}

TEST(PromptErrors, UndetectableColumns) {
  Caught c = caught([] { prompts("a,b\n1,2\n", "odd.csv"); });
  EXPECT_HAS(c.message, "odd.csv: cannot tell which field holds the prompt");
  EXPECT_HAS(c.message, "[a, b]");
  EXPECT_HAS(c.hint, "harmbench");
  c = caught([] { prompts("[{\"text\": \"x\"}]", "odd.json"); });
  EXPECT_HAS(c.message, "item 1 (fields [text])");
}

TEST(PromptErrors, BadJsonGivesLineAndColumn) {
  Caught c = caught([] { prompts("[\n  \"a\",\n  \"b\"\n  \"c\"\n]\n", "broken.json"); });
  EXPECT_HAS(c.message, "broken.json: line 4, column 5: bad JSON");
  c = caught([] { prompts("{\"p\": \"a\"}\n{\"p\": \"b\",}\n", "rows.jsonl", "", "p"); });
  EXPECT_HAS(c.message, "rows.jsonl: line 2, column");
}

TEST(PromptErrors, WrongTypes) {
  Caught c = caught([] { prompts("[{\"instruction\": 5}]", "t.json"); });
  EXPECT_HAS(c.message, "t.json: item 1: field 'instruction' is a number, expected a string");
  c = caught([] { prompts("[{\"instruction\": \"ok\", \"category\": [1]}]", "t.json"); });
  EXPECT_HAS(c.message, "t.json: item 1: field 'category' is a list, expected a string");
  c = caught([] { prompts("[\"ok\", {\"instruction\": \"x\"}]", "t.json"); });
  EXPECT_HAS(c.message, "t.json: item 2 is an object, but item 1 was a string");
  c = caught([] { prompts("[\"ok\", 3]", "t.json"); });
  EXPECT_HAS(c.message, "t.json: item 2 is a number, expected a string or an object");
  c = caught([] { prompts("{\"instruction\": \"x\"}", "t.json"); });
  EXPECT_HAS(c.message,
             "t.json: expected a JSON list of prompts, found an object with fields [instruction]");
  EXPECT_HAS(c.hint, "jsonl");
  c = caught([] { prompts("[\"a\"]", "t.json", "advbench"); });
  EXPECT_HAS(c.message, "t.json: item 1 is a string, but the prompt field 'goal' needs objects");
  c = caught([] { prompts("[1]\n", "t.jsonl"); });
  EXPECT_HAS(c.message, "t.jsonl: line 1 is a list");
}

TEST(PromptErrors, MissingOrNullOrEmptyField) {
  Caught c = caught([] {
    prompts("[{\"instruction\": \"a\"}, {\"category\": \"b\"}]", "m.json", "refusal_direction");
  });
  EXPECT_HAS(c.message,
             "m.json: item 2: missing field 'instruction' (the item has fields [category])");
  c = caught([] { prompts("[{\"instruction\": null}]", "m.json", "refusal_direction"); });
  EXPECT_HAS(c.message, "m.json: item 1: field 'instruction' is null");
  c = caught([] { prompts("goal,target\nfine,x\n  ,y\n", "adv.csv"); });
  EXPECT_HAS(c.message, "adv.csv: row 2 (line 3): field 'goal' is empty");
  c = caught([] { prompts("[\"a\", \"\"]", "s.json"); });
  EXPECT_HAS(c.message, "s.json: item 2: the prompt is empty");
}

TEST(PromptErrors, CsvStructure) {
  Caught c = caught([] { prompts("goal,target\n\"open,x\n", "adv.csv"); });
  EXPECT_HAS(c.message, "adv.csv: line 2, field 1 ('goal'): unterminated quoted field");
  c = caught([] { prompts("goal,target\na,b,c\n", "adv.csv"); });
  EXPECT_HAS(c.message, "adv.csv: row 1 (line 2): 3 fields");
  c = caught([] { prompts("goal,target\n", "adv.csv"); });
  EXPECT_HAS(c.message, "adv.csv: the CSV file has a header [goal, target] but no rows");
}

TEST(PromptErrors, EmptyInputs) {
  Caught c = caught([] { prompts("", "e.txt"); });
  EXPECT_HAS(c.message, "e.txt: no prompts found (the file is empty)");
  c = caught([] { prompts("# only a comment\n\n", "e.txt"); });
  EXPECT_HAS(c.message, "e.txt: no prompts found");
  c = caught([] { prompts("", "e.json"); });
  EXPECT_HAS(c.message, "e.json: line 1, column 1: bad JSON");
  EXPECT_HAS(c.hint, "empty");
  c = caught([] { prompts("[]", "e.json"); });
  EXPECT_HAS(c.message, "e.json: no prompts found");
  c = caught([] { prompts("", "e.csv"); });
  EXPECT_HAS(c.message, "e.csv: empty CSV file");
  c = caught([] { prompts("\n\n", "e.jsonl"); });
  EXPECT_HAS(c.message, "e.jsonl: no prompts found");
}

TEST(PromptErrors, BadOptions) {
  Caught c = caught([] { prompts("[\"a\"]", "x.json", "advbnch"); });
  EXPECT_HAS(c.message, "unknown prompt preset 'advbnch'");
  EXPECT_HAS(c.hint, "advbench");
  c = caught([] { prompts("a\n", "x.txt", "", "goal"); });
  EXPECT_HAS(c.message, "x.txt: a plain-text prompt file has no fields, but a field ('goal')");
  c = caught([] { parse_file_format("yaml", "--format"); });
  EXPECT_HAS(c.message, "--format: unknown file format 'yaml'");
  c = caught([] { load_prompts("/nonexistent/dir/prompts.json"); });
  EXPECT_HAS(c.message, "cannot open prompt file '/nonexistent/dir/prompts.json'");
}

ABSet ab(const std::string& bytes, const std::string& source = "ab.json") {
  return parse_ab_set(bytes, source);
}

TEST(AbErrors, FieldsAnswersAndTypes) {
  Caught c = caught(
      [] { ab(R"j([{"question": "Q? (A) x (B) y", "answer_matching_behavior": "(A)"}])j"); });
  EXPECT_HAS(c.message, "ab.json: item 1: missing field 'answer_not_matching_behavior'");
  c = caught([] {
    ab(R"j([{"question": "Q (A) x (B) y", "answer_matching_behavior": "(A)",
            "answer_not_matching_behavior": "(B)"},
           {"question": "Q (A) x (B) y", "answer_matching_behavior": "A",
            "answer_not_matching_behavior": "(B)"}])j");
  });
  EXPECT_HAS(c.message, "ab.json: item 2: field 'answer_matching_behavior' is \"A\", expected");
  c = caught([] {
    ab(R"j([{"question": "Q (A) x (B) y", "answer_matching_behavior": "(C)",
            "answer_not_matching_behavior": "(B)"}])j");
  });
  EXPECT_HAS(c.message,
             "item 1: field 'answer_matching_behavior' is (C), but the question has no choice (C)");
  c = caught([] {
    ab(R"j([{"question": "Q (A) x (B) y", "answer_matching_behavior": "(A)",
            "answer_not_matching_behavior": "(A)"}])j");
  });
  EXPECT_HAS(c.message, "item 1: both answers are (A)");
  c = caught([] {
    ab(R"j([{"question": 7, "answer_matching_behavior": "(A)", "answer_not_matching_behavior": "(B)"}])j");
  });
  EXPECT_HAS(c.message, "item 1: field 'question' is a number, expected a string");
  c = caught([] { ab("[\"just a string\"]"); });
  EXPECT_HAS(c.message, "ab.json: item 1 is a string, expected an object");
  c = caught([] { ab("[]"); });
  EXPECT_HAS(c.message, "ab.json: no A/B items found");
  c = caught([] { ab("[{]"); });
  EXPECT_HAS(c.message, "ab.json: line 1, column 3: bad JSON");
  c = caught([] {
    ab("{\"question\": \"(A) (B)\", \"answer_matching_behavior\": \"(A)\", "
       "\"answer_not_matching_behavior\": \"(B)\"}\n{\"question\": \"(A)\"}\n",
       "ab.jsonl");
  });
  EXPECT_HAS(c.message, "ab.jsonl: line 2: missing field 'answer_matching_behavior'");
}

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(StereoSetErrors, NamesItemAndField) {
  std::string good = R"({"id": "a", "target": "t", "bias_type": "gender", "context": "BLANK",
      "data": {"stereotype": {"sentence": "s"}, "anti-stereotype": {"sentence": "a"},
               "unrelated": {"sentence": "u"}}})";
  std::string path = write_temp("ss1.json", "[" + good + R"(, {"id": "b", "target": "t",
      "bias_type": "gender", "context": "BLANK", "data": {"stereotype": {"sentence": "s"},
      "unrelated": {"sentence": "u"}}}])");
  Caught c = caught([&] { load_stereoset(path); });
  EXPECT_HAS(c.message, path + ": item 2: missing field 'data.anti-stereotype'");
  path = write_temp("ss2.json", R"([{"id": 1}])");
  c = caught([&] { load_stereoset(path); });
  EXPECT_HAS(c.message, "item 1: field 'id' is a number, expected a string");
  path = write_temp(
      "ss3.json",
      "[" + good +
          ", {\"id\": \"x\", \"target\": \"t\", \"bias_type\": \"race\", \"context\": \"c\"}]");
  c = caught([&] { load_stereoset(path); });
  EXPECT_HAS(c.message, "item 2: missing field 'data' (or 'sentences')");
  path = write_temp("ss4.json", R"([{"id": "x", "target": "t", "bias_type": "race", "context": "c",
      "sentences": [{"sentence": "s", "gold_label": "stereotype"}]}])");
  c = caught([&] { load_stereoset(path); });
  EXPECT_HAS(c.message, "item 1: no sentence with gold_label 'anti-stereotype'");
  path = write_temp("ss5.json", "[]");
  c = caught([&] { load_stereoset(path); });
  EXPECT_HAS(c.message, "no StereoSet items found");
  path = write_temp("ss6.json", "[{\"id\": ");
  c = caught([&] { load_stereoset(path); });
  EXPECT_HAS(c.message, "bad JSON");
}

}  // namespace
}  // namespace steer
