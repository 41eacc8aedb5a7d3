// The project's default prompt sets, read from the copies of data/prompts/*.json embedded at
// build time (embedded_prompts.h), through the same parsers as any user file.
#include "steer/error.h"
#include "data/embedded_prompts.h"
#include "steer/prompts.h"
#include "steer/score_judge.h"

#include <nlohmann/json.hpp>

namespace steer {

std::string embedded_prompt_file(const std::string& name) {
  for (size_t i = 0; i < kEmbeddedPromptFileCount; ++i) {
    if (name == kEmbeddedPromptFiles[i].name) {
      return std::string(kEmbeddedPromptFiles[i].bytes, kEmbeddedPromptFiles[i].size);
    }
  }
  fail("default prompt file '" + name + "' is not embedded in this build",
       "it must be in data/prompts/ when CMake configures; re-run cmake");
}

namespace {

std::string embedded(const std::string& name) { return embedded_prompt_file(name); }

PromptSet builtin_prompts(const std::string& file) {
  PromptFormat format;
  format.format = FileFormat::kJson;
  format.preset = "refusal_direction";  // {instruction, category}, the format we write
  return parse_prompts(embedded(file), "builtin:data/prompts/" + file, format);
}

}  // namespace

PromptSet default_harmful() {
  return builtin_prompts("harmful.json");
}
PromptSet default_harmless() {
  return builtin_prompts("harmless.json");
}

std::vector<std::string> default_harmless_text() {
  PromptFormat format;
  format.format = FileFormat::kJson;
  format.field = "text";
  format.category_field = "topic";
  return parse_prompts(embedded("harmless_text.json"), "builtin:data/prompts/harmless_text.json", format)
      .instructions();
}

const std::vector<std::string>& default_ab_behaviours() {
  static const std::vector<std::string> kBehaviours = {"refusal", "sycophancy"};
  return kBehaviours;
}

ABSet default_ab(const std::string& behaviour) {
  for (const std::string& b : default_ab_behaviours()) {
    if (b == behaviour) {
      std::string file = "caa_" + b + "_ab.json";
      return parse_ab_set(embedded(file), "builtin:data/prompts/" + file);
    }
  }
  std::string known;
  for (const std::string& b : default_ab_behaviours()) known += (known.empty() ? "" : ", ") + b;
  fail("no default A/B set for behaviour '" + behaviour + "'",
       "defaults exist for " + known + "; for others give an A/B file (steer extract --method caa --positive FILE, steer caa --train FILE)");
}

std::vector<LabelledAnswer> hand_labelled_answers(const std::string& behavior) {
  const std::string file = "judge_hand_labelled.json";
  std::vector<LabelledAnswer> out;
  const nlohmann::json j = nlohmann::json::parse(embedded(file));  // the project's own file, checked by a test
  for (const nlohmann::json& item : j)
    if (item.at("behavior").get<std::string>() == behavior)
      out.push_back({behavior, item.at("question").get<std::string>(), item.at("answer").get<std::string>(),
                     item.at("label").get<double>()});
  return out;
}

}  // namespace steer
