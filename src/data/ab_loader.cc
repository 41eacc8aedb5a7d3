// load_ab_set: CAA's A/B files ({question, answer_matching_behavior,
// answer_not_matching_behavior}) as a JSON list or JSONL (contract in include/steer/prompts.h).
#include <cctype>
#include <nlohmann/json.hpp>

#include "steer/error.h"
#include "data/sha256.h"
#include "data/source_text.h"
#include "steer/prompts.h"

namespace steer {
namespace {

using nlohmann::json;

constexpr const char* kQuestion = "question";
constexpr const char* kMatching = "answer_matching_behavior";
constexpr const char* kNotMatching = "answer_not_matching_behavior";

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string string_field(const json& item, const char* field, const std::string& source,
                         const std::string& where) {
  auto it = item.find(field);
  if (it == item.end()) {
    fail(source + ": " + where + ": missing field '" + field + "' (the item has fields " +
             json_key_list(item) + ")",
         "a CAA A/B item has question, answer_matching_behavior and "
         "answer_not_matching_behavior");
  }
  if (!it->is_string()) {
    fail(source + ": " + where + ": field '" + field + "' is " + json_kind(*it) +
             ", expected a string",
         "CAA answers are strings such as \"(A)\"");
  }
  return it->get<std::string>();
}

ABItem read_item(const json& item, const std::string& source, const std::string& where) {
  if (!item.is_object()) {
    fail(source + ": " + where + " is " + json_kind(item) + ", expected an object",
         "an A/B file is a list of {question, answer_matching_behavior, "
         "answer_not_matching_behavior}");
  }
  // CAA's MMLU and TruthfulQA files name the same three fields prompt / correct / incorrect;
  // the "behaviour" they measure is answering correctly.
  const bool capability = !item.contains(kQuestion) && item.contains("prompt") && item.contains("correct");
  const char* question_field = capability ? "prompt" : kQuestion;
  const char* matching_field = capability ? "correct" : kMatching;
  const char* not_matching_field = capability ? "incorrect" : kNotMatching;
  ABItem ab;
  ab.question = string_field(item, question_field, source, where);
  ab.answer_matching = trim(string_field(item, matching_field, source, where));
  ab.answer_not_matching = trim(string_field(item, not_matching_field, source, where));
  if (trim(ab.question).empty()) {
    fail(source + ": " + where + ": field '" + question_field + "' is empty", "fill in the question");
  }
  for (const auto& [field, answer] :
       {std::pair<const char*, const std::string&>{matching_field, ab.answer_matching},
        {not_matching_field, ab.answer_not_matching}}) {
    bool ok = answer.size() == 3 && answer[0] == '(' && answer[2] == ')' &&
              std::isupper(static_cast<unsigned char>(answer[1]));
    if (!ok) {
      fail(source + ": " + where + ": field '" + field + "' is \"" + answer +
               "\", expected a choice label like \"(A)\"",
           "the answers name one of the choices in the question");
    }
    if (ab.question.find(answer) == std::string::npos) {
      fail(source + ": " + where + ": field '" + field + "' is " + answer +
               ", but the question has no choice " + answer,
           "the question must list the choices, e.g. \"Choices:\\n(A) …\\n(B) …\"");
    }
  }
  if (ab.answer_matching == ab.answer_not_matching) {
    fail(source + ": " + where + ": both answers are " + ab.answer_matching,
         "answer_matching_behavior and answer_not_matching_behavior must differ");
  }
  return ab;
}

}  // namespace

ABSet parse_ab_set(const std::string& bytes, const std::string& source) {
  ABSet set;
  set.name = file_stem(source);
  set.path = source;
  set.sha256 = sha256_hex(bytes);
  std::string ext = file_extension_lower(source);
  if (ext == ".jsonl" || ext == ".ndjson") {
    size_t start = 0, line_no = 0;
    while (start < bytes.size()) {
      size_t end = bytes.find('\n', start);
      if (end == std::string::npos) end = bytes.size();
      std::string line = bytes.substr(start, end - start);
      ++line_no;
      start = end + 1;
      if (trim(line).empty()) continue;
      set.items.push_back(read_item(parse_json_text(line, source, line_no), source,
                                    "line " + std::to_string(line_no)));
    }
  } else {
    json doc = parse_json_text(bytes, source);
    if (!doc.is_array()) {
      fail(source + ": expected a JSON list of A/B items, found " + json_kind(doc),
           "CAA files are lists of {question, answer_matching_behavior, "
           "answer_not_matching_behavior}; JSONL needs the .jsonl extension");
    }
    for (size_t i = 0; i < doc.size(); ++i) {
      set.items.push_back(read_item(doc[i], source, "item " + std::to_string(i + 1)));
    }
  }
  if (set.items.empty()) {
    fail(source + ": no A/B items found", "an A/B file needs at least one item");
  }
  return set;
}

ABSet load_ab_set(const std::string& path) {
  return parse_ab_set(read_file_bytes(path, "A/B file"), path);
}

}  // namespace steer
