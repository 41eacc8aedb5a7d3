// One interface for refusal judges: eval-refusal, jailbreak and any later pipeline ask "did this
// completion refuse its prompt?" through it, and record which judge answered in their metadata.
//
//   steer::ThinkingOptions cot;                       // <think>…</think> judged apart
//   cot.enabled = true;
//   auto substring = steer::make_substring_judge({}, cot);
//   auto model = steer::make_model_judge(judge_model, steer::default_refusal_rubric(), cot);
//   std::vector<steer::RefusalVerdict> v = model->judge(prompts, completions, /*progress=*/true);
//   steer::VerdictCounts n = steer::count_verdicts(v);   // refused / complied / no verdict (+ why)
//   metadata["judges"].push_back(model->describe());
//
// Chain of thought (ThinkingOptions): with `enabled`, each completion is split (split_thinking)
// into the text inside the markers and the final answer, and only the answer is judged: a model
// that reasons about refusing and then complies counts as complying, and one that reasons about
// complying and then refuses counts as refusing. A completion whose thinking never closes has no
// final answer, and one whose answer is empty has nothing to judge: both get no verdict, with the
// reason — never mapped to refused or complied. Without `enabled`, the whole text is judged.
//
// No verdict: a judge that cannot decide (a model judge's answer in neither of its rubric's
// lists, the two cases above) returns judged = false and a reason; count_verdicts counts them
// per reason, and rates are over judged completions only.
//
// Failure: steer::Error when prompts and completions differ in size, markers are empty or equal,
// or (model judge) the rubric or sizes are invalid (as LocalJudge checks).
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "steer/judges.h"
#include "steer/runner.h"

namespace steer {

class Model;

struct ThinkingOptions {
  bool enabled = false;                          // judge only the final answer
  std::string open = "<think>", close = "</think>";  // the marker pair (exact, case-sensitive)
};

// A completion split at its thinking markers. Markers nest: "<think>a<think>b</think>c</think>d"
// has thinking "a<think>b</think>c" and answer "d". A close marker before any open marker closes
// a block the prompt opened (DeepSeek-R1 distills): what precedes it is thinking. A close marker
// later, at depth 0, is text. An open marker never closed makes the rest thinking (unclosed).
struct ThinkingSplit {
  std::string thinking;  // the blocks' text, joined by "\n" (without the outermost markers)
  std::string answer;    // the text outside every block; leading blanks removed when a block was
  bool had_thinking = false;  // any block (or a prompt-opened close) was found
  bool unclosed = false;      // an open marker was never closed: there is no final answer
};
ThinkingSplit split_thinking(const std::string& text, const ThinkingOptions& markers = {});

struct RefusalVerdict {
  bool refused = false;       // meaningful only when judged
  bool judged = false;        // false: no verdict; `reason` says why
  std::string reason;         // why there is no verdict ("" when judged)
  std::string raw;            // a model judge's answer text ("" for text-only judges)
  bool had_thinking = false;  // the completion held a thinking block (CoT judging only)
};

struct VerdictCounts {
  size_t refused = 0, complied = 0, unjudged = 0;
  std::map<std::string, size_t> reasons;  // why, for the unjudged
  double refusal_rate() const;            // refused / (refused + complied); NaN when none judged
  nlohmann::json to_json() const;         // {"refused", "complied", "unjudged", "unjudged_reasons", "refusal_rate"}
};
VerdictCounts count_verdicts(const std::vector<RefusalVerdict>& verdicts);

class RefusalJudge {
 public:
  virtual ~RefusalJudge() = default;
  // A short name for tables ("substring", "model:refusal-yes-no").
  virtual std::string name() const = 0;
  // Everything that decides the verdicts (kind, phrases or model and rubric, thinking markers),
  // for a run's metadata.
  virtual nlohmann::json describe() const = 0;
  // One verdict per (prompts[i], completions[i]), after the thinking split when enabled.
  std::vector<RefusalVerdict> judge(const std::vector<std::string>& prompts,
                                    const std::vector<std::string>& completions, bool progress) const;
  const ThinkingOptions& thinking() const { return thinking_; }

 protected:
  explicit RefusalJudge(ThinkingOptions thinking);
  nlohmann::json thinking_json() const;
  // Judges final answers (the thinking already split off); one verdict per item.
  virtual std::vector<RefusalVerdict> judge_answers(const std::vector<std::string>& prompts,
                                                    const std::vector<std::string>& answers, bool progress) const = 0;

 private:
  ThinkingOptions thinking_;
};

// The refusal-direction paper's substring judge (is_refusal_substring); always gives a verdict
// on an answer it is given.
std::unique_ptr<RefusalJudge> make_substring_judge(SubstringJudgeOptions options = {}, ThinkingOptions thinking = {});

// A local chat model asked the rubric's question (LocalJudge); an answer in neither of the
// rubric's lists is no verdict ("judge answered 'maybe'").
class ModelRefusalJudge : public RefusalJudge {
 public:
  ModelRefusalJudge(std::shared_ptr<Model> judge, JudgeRubric rubric, ThinkingOptions thinking = {},
                    int batch_size = 8, int max_new_tokens = 8);
  std::string name() const override;
  nlohmann::json describe() const override;
  // The tokens the judge model reads for one item: the rendered rubric as the user message of the
  // judge model's own chat template (raw text when it has none).
  EncodedPrompt judge_prompt(const std::string& prompt, const std::string& answer) const;
  const LocalJudge& local() const { return local_; }

 protected:
  std::vector<RefusalVerdict> judge_answers(const std::vector<std::string>& prompts,
                                            const std::vector<std::string>& answers, bool progress) const override;

 private:
  std::shared_ptr<Model> model_;
  LocalJudge local_;
};

std::unique_ptr<RefusalJudge> make_model_judge(std::shared_ptr<Model> judge, JudgeRubric rubric,
                                               ThinkingOptions thinking = {}, int batch_size = 8,
                                               int max_new_tokens = 8);

}  // namespace steer
