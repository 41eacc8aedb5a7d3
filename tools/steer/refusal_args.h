// Evaluation options shared by `steer refusal` and `steer eval-refusal`: generation length,
// chain-of-thought stripping, refusal tokens and the optional local judge model.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "cli.h"
#include "steer/judges.h"
#include "steer/model.h"
#include "steer/refusal.h"

namespace steer::cli {

struct RefusalEvalArgs {
  RefusalEvalOptions options;  // the library's defaults; apply() copies what the options set
  std::string refusal_tokens, judge_model, judge_rubric = "refusal";

  void add_to(CLI::App& sub) {
    sub.add_option("--max-tokens,-n", options.max_new_tokens, "New tokens per evaluation completion (greedy)")
        ->capture_default_str();
    sub.add_option("--eval-batch", options.batch_size, "Prompts per generation batch")->capture_default_str();
    sub.add_flag("--strip-thinking", options.strip_thinking, "Judge only what follows a <think>…</think> block");
    sub.add_option("--refusal-tokens", refusal_tokens,
                   "Refusal first tokens for the refusal score, e.g. \"I,As\" or \"I,#2121\" (default: \"I\", plus "
                   "\"As\" for Qwen, from the tokenizer)");
    sub.add_option("--judge-model", judge_model, "A local chat model (.gguf, HF dir or name) that judges refusals too");
    sub.add_option("--judge-rubric", judge_rubric, "refusal (yes/no), llama-guard (safe/unsafe) or a rubric JSON file")
        ->capture_default_str();
  }

  // Fills the evaluation options; loads the judge (kept alive by the returned pointer).
  std::unique_ptr<LocalJudge> apply(RefusalEvalOptions& o, const GlobalOptions& global) const {
    o.max_new_tokens = options.max_new_tokens;
    o.batch_size = options.batch_size;
    o.strip_thinking = options.strip_thinking;
    std::unique_ptr<LocalJudge> judge;
    if (!judge_model.empty()) {
      JudgeRubric rubric = judge_rubric == "refusal"       ? default_refusal_rubric()
                           : judge_rubric == "llama-guard" ? llama_guard_rubric()
                                                           : load_rubric(judge_rubric);
      judge = std::make_unique<LocalJudge>(load_model(judge_model, global), rubric);
      o.judge = judge.get();
    }
    return judge;
  }
};

// Runs the pipeline into `output` and prints what it found (the refusal and demo verbs).
// 0 when a direction was selected, 1 when every candidate was filtered out.
int run_refusal_and_report(const Model& model, const RefusalPipelineOptions& options, const std::string& output);

}  // namespace steer::cli
