// Evaluation options shared by `steer refusal` and `steer eval-refusal`: generation length,
// chain-of-thought stripping, refusal tokens and the optional local judge model.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "cli.h"
#include "steer/error.h"
#include "steer/judges.h"
#include "steer/model.h"
#include "steer/refusal.h"
#include "steer/refusal_judge.h"

namespace steer::cli {

struct RefusalEvalArgs {
  RefusalEvalOptions options;  // the library's defaults; apply() copies what the options set
  std::string refusal_tokens, judge_model, judge_rubric = "refusal", thinking_markers = "<think>,</think>";

  void add_to(CLI::App& sub) {
    sub.add_option("--max-tokens,-n", options.max_new_tokens, "New tokens per evaluation completion (greedy)")
        ->capture_default_str();
    sub.add_option("--eval-batch", options.batch_size, "Prompts per generation batch")->capture_default_str();
    sub.add_flag("--strip-thinking", options.thinking.enabled,
                 "Chain-of-thought judging: judge only the final answer outside <think>…</think> (every judge); "
                 "a completion whose thinking never closes gets no verdict, counted in summary.json");
    sub.add_option("--thinking-markers", thinking_markers,
                   "The thinking marker pair as OPEN,CLOSE (with --strip-thinking)")
        ->capture_default_str();
    sub.add_option("--refusal-tokens", refusal_tokens,
                   "Refusal first tokens for the refusal score, e.g. \"I,As\" or \"I,#2121\" (default: \"I\", plus "
                   "\"As\" for Qwen, from the tokenizer)");
    sub.add_option("--judge-model", judge_model, "A local chat model (.gguf, HF dir or name) that judges refusals too");
    sub.add_option("--judge-rubric", judge_rubric, "refusal (yes/no), llama-guard (safe/unsafe) or a rubric JSON file")
        ->capture_default_str();
  }

  // Fills the evaluation options; loads the judge (kept alive by the returned pointer).
  std::unique_ptr<RefusalJudge> apply(RefusalEvalOptions& o, const GlobalOptions& global) const {
    o.max_new_tokens = options.max_new_tokens;
    o.batch_size = options.batch_size;
    o.thinking = thinking(options.thinking.enabled);
    std::unique_ptr<RefusalJudge> judge = load_judge(o.thinking, global);
    o.judge = judge.get();
    return judge;
  }

  // The thinking options from --strip-thinking and --thinking-markers.
  ThinkingOptions thinking(bool enabled) const {
    ThinkingOptions t;
    t.enabled = enabled;
    const size_t comma = thinking_markers.find(',');
    if (comma == std::string::npos || comma == 0 || comma + 1 == thinking_markers.size())
      fail("--thinking-markers: \"" + thinking_markers + "\" is not OPEN,CLOSE", "e.g. --thinking-markers '<think>,</think>'");
    t.open = thinking_markers.substr(0, comma);
    t.close = thinking_markers.substr(comma + 1);
    if (t.open == t.close) fail("--thinking-markers: open and close are the same (\"" + t.open + "\")");
    return t;
  }

  // The rubric named by --judge-rubric (checked before any model loads).
  JudgeRubric rubric() const {
    return judge_rubric == "refusal"       ? default_refusal_rubric()
           : judge_rubric == "llama-guard" ? llama_guard_rubric()
                                           : load_rubric(judge_rubric);
  }

  // The --judge-model judge, or null without one.
  std::unique_ptr<RefusalJudge> load_judge(const ThinkingOptions& t, const GlobalOptions& global) const {
    if (judge_model.empty()) return nullptr;
    JudgeRubric r = rubric();
    return make_model_judge(load_model(judge_model, global), r, t);
  }
};

// Runs the pipeline into `output` and prints what it found (the refusal and demo verbs).
// 0 when a direction was selected, 1 when every candidate was filtered out.
int run_refusal_and_report(const Model& model, const RefusalPipelineOptions& options, const std::string& output);

}  // namespace steer::cli
