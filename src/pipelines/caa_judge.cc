// CAA's open-ended scoring with a local judge (CaaOptions::judge): each answer scored 0–10
// under the behaviour's rubric, a mean with its interval per condition, and the judge measured
// on the project's hand-labelled answers so the report says how far its scores can be trusted.
#include <cmath>

#include "pipelines/caa_common.h"
#include "steer/model.h"
#include "steer/score_judge.h"

namespace steer::caa_detail {

void judge_open_ended(const CaaOptions& o, const std::vector<SteerSetting>& stacked, CaaRun& run) {
  const ScoreRubric rubric = behavior_score_rubric(run.behavior);
  ScoreJudge judge(o.judge, o.judge_batch);
  std::vector<std::string> questions, answers;
  for (const OpenEndedAnswer& a : run.open_ended) {
    questions.push_back(a.question);
    answers.push_back(a.answer);
  }
  std::vector<ScoreVerdict> v = judge.score(rubric, questions, answers, o.progress);
  for (size_t i = 0; i < v.size(); ++i) {
    run.open_ended[i].score = v[i].score;
    run.open_ended[i].judge_reply = v[i].raw;
  }
  for (const SteerSetting& s : stacked) {
    const double m = s.steered() ? s.multiplier : 0.0;
    JudgedCondition c;
    c.multiplier = m;
    std::vector<double> scores;
    for (const OpenEndedAnswer& a : run.open_ended)
      if (a.multiplier == m) {
        if (a.score) scores.push_back(*a.score);
        else ++c.unscored;
      }
    c.scored = scores.size();
    c.score = scores.empty() ? Interval{std::nan(""), std::nan(""), std::nan("")} : bootstrap_mean(scores);
    run.open_ended_scores.push_back(c);
  }

  JudgeCheck check;
  check.items = hand_labelled_answers(run.behavior);
  if (!check.items.empty()) {
    std::vector<std::string> q, a;
    for (const LabelledAnswer& it : check.items) {
      q.push_back(it.question);
      a.push_back(it.answer);
    }
    size_t right = 0, scored = 0;
    double abs_error = 0;
    std::vector<ScoreVerdict> lv = judge.score(rubric, q, a, o.progress);
    for (size_t i = 0; i < lv.size(); ++i) {
      check.scores.push_back(lv[i].score);
      if (!lv[i].score) {
        ++check.unscored;
        continue;
      }
      ++scored;
      right += (*lv[i].score >= 5) == (check.items[i].label >= 5);
      abs_error += std::abs(*lv[i].score - check.items[i].label);
    }
    check.accuracy = scored ? double(right) / double(scored) : std::nan("");
    check.mean_abs_error = scored ? abs_error / double(scored) : std::nan("");
    run.judge_check = check;
  }
  run.metadata["judge"] = {{"model", o.judge->path()}, {"config", o.judge->config().describe()},
                           {"rubric", rubric.instruction}, {"hand_labelled", check.items.size()}};
}

}  // namespace steer::caa_detail
