// Prompt-file options shared by the steering verbs (capture, extract): a file read with
// load_prompts, or one of the built-in sets, named "builtin:harmful" / "builtin:harmless".
#pragma once
#include <CLI/CLI.hpp>

#include <string>

#include "steer/error.h"
#include "steer/prompts.h"

namespace steer::cli {

struct PromptFileOptions {
  std::string preset, field, format = "auto";
  size_t limit = 0;  // 0: every prompt

  void add_to(CLI::App& sub) {
    sub.add_option("--preset", preset, "Dataset preset of the prompt files (harmbench, jailbreakbench, advbench, "
                                       "strongreject, alpaca, refusal_direction); detected when not given");
    sub.add_option("--field", field, "The prompt field of a JSON/JSONL/CSV prompt file (instead of a preset)");
    sub.add_option("--format", format, "Prompt file format: auto, text, json, jsonl, csv")->capture_default_str();
    sub.add_option("--limit", limit, "Use only the first N prompts of each file (0: all)")->capture_default_str();
  }

  // `spec`: a path, or builtin:harmful / builtin:harmless.
  PromptSet load(const std::string& spec, const std::string& option) const {
    PromptSet set;
    if (spec == "builtin:harmful") {
      set = default_harmful();
    } else if (spec == "builtin:harmless") {
      set = default_harmless();
    } else if (spec.rfind("builtin:", 0) == 0) {
      fail(option + ": unknown built-in prompt set '" + spec + "'", "use builtin:harmful or builtin:harmless");
    } else {
      PromptFormat f;
      f.format = parse_file_format(format, "--format");
      f.preset = preset;
      f.field = field;
      set = load_prompts(spec, f);
    }
    if (limit > 0 && set.items.size() > limit) set.items.resize(limit);
    return set;
  }
};

}  // namespace steer::cli
