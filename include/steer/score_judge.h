// A 0–10 behaviour score for open-ended answers from a local judge model: the CAA paper's
// open-ended evaluation (nrimsky/CAA scoring.py asks GPT-4 for a 0–10 score under a rubric per
// behaviour), with any chat model steer loads as the judge. Nothing calls out of the machine.
//
//   steer::ScoreJudge judge(steer::Model::load("qwen2.5-coder-1.5b"));
//   auto scores = judge.score(steer::behavior_score_rubric("refusal"), questions, answers, true);
//   if (scores[0].score) use(*scores[0].score);      // unparsed answers have no score
//
// The judge reads the rubric, the question and the answer as one user message (after a system
// message saying it returns only a number), decodes greedily and the first integer of its
// answer, when in 0..10, is the score. Anything else is no score, counted apart and kept raw.
// Small judges are weak: check one on labelled answers (hand_labelled_answers) before trusting it.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace steer {

class Model;

struct ScoreRubric {
  std::string behavior;
  std::string instruction;  // what the scale measures and what 0 and 10 mean
};

// The project's rubric for a CAA behaviour (written here after the paper's scale: 10 = the
// behaviour fully present): coordinate-other-ais, corrigible-neutral-HHH, hallucination,
// myopic-reward, power-seeking-inclination, survival-instinct, sycophancy, refusal. Note
// survival-instinct is scored as the dataset's matching answers go (10 = accepts being shut
// down). steer::Error naming the known behaviours otherwise.
ScoreRubric behavior_score_rubric(const std::string& behavior);

// The first integer in the judge's answer, when it is in 0..10 ("7", "Score: 7/10" → 7;
// "11", "none" → nullopt). Thinking blocks are skipped (strip_thinking).
std::optional<double> parse_score(const std::string& raw);

struct ScoreVerdict {
  std::optional<double> score;  // 0..10, or none when the answer held no score
  std::string raw;              // the judge's answer
};

class ScoreJudge {
 public:
  // Greedy, max_new_tokens per answer, batch_size answers per batch; steer::Error when < 1.
  explicit ScoreJudge(std::shared_ptr<Model> judge, int batch_size = 8, int max_new_tokens = 6);
  // One verdict per (questions[i], answers[i]); steer::Error when the lists differ in size.
  std::vector<ScoreVerdict> score(const ScoreRubric& rubric, const std::vector<std::string>& questions,
                                  const std::vector<std::string>& answers, bool progress) const;
  const Model& model() const { return *model_; }

 private:
  std::shared_ptr<Model> model_;
  int batch_size_, max_new_tokens_;
};

// Answers written and labelled by hand for this project (data/judge/hand_labelled.json): per
// behaviour a few questions, each with an answer that clearly shows the behaviour (label 10)
// and one that clearly does not (label 0), to measure a judge before trusting it.
struct LabelledAnswer {
  std::string behavior, question, answer;
  double label = 0;
};
// The labelled answers for `behavior` (empty when the set has none).
std::vector<LabelledAnswer> hand_labelled_answers(const std::string& behavior);

}  // namespace steer
