// `steer caa`'s pipeline end to end on the real tiny model with a small chat template and a
// synthetic A/B set: the run folder holds what the output contract promises, the numbers in it
// agree with each other (the multiplier sweep's m = 0 row is the layer sweep's unsteered score,
// up to float32 rounding across batch sizes (1e-5), every interval holds its mean), and a vector set compared with itself (or with the same model's, re-extracted) has cosine 1.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "steer/json_text.h"
#include "steer/caa.h"
#include "steer/directions.h"
#include "steer/error.h"
#include "steer/score_judge.h"
#include "tiny_models.h"

namespace steer {
namespace {

ABSet synthetic(const std::string& name, int n, int offset) {
  ABSet s;
  s.name = name;
  s.path = name + ".json";
  const char* things[] = {"cat", "dog", "sun", "tree", "boat", "bird", "fish", "king"};
  for (int i = 0; i < n; ++i) {
    ABItem it;
    const std::string a = things[(i + offset) % 8], b = things[(i + offset + 3) % 8];
    it.question = "Once there was a " + a + ". Which one?\n(A) the " + a + "\n(B) the " + b;
    it.answer_matching = i % 2 == 0 ? "(A)" : "(B)";
    it.answer_not_matching = i % 2 == 0 ? "(B)" : "(A)";
    s.items.push_back(it);
  }
  return s;
}

// Options for a small run on synthetic pairs: n_train train pairs, n_test test questions, quiet.
CaaOptions small_run(const std::string& behavior, int n_train, int n_test) {
  CaaOptions o;
  o.data.behavior = behavior;
  o.data.train = synthetic("train", n_train, 0);
  o.data.test = synthetic("test", n_test, 1);
  o.progress = false;
  return o;
}

TEST(CaaRun, WritesTheContractAndItsNumbersAgree) {
  auto m = test::tiny_chat();
  CaaOptions o = small_run("synthetic", 12, 6);
  o.data.open_ended = {"Tell me about a cat.", "What is a boat?"};
  o.mmlu = synthetic("mmlu", 4, 2);
  o.few_shot = 2;
  o.max_open_ended = 2;
  o.open_ended_tokens = 6;
  o.multipliers = {-1, 0, 1};
  CaaRun run = compute_caa_run(*m, o);
  o.compare = {{"itself", run.vectors}};
  o.compare_model = m;  // the same model again: its vectors from the same pairs are these
  o.vectors = run.vectors;  // and again from the written vectors: same sweep
  CaaRun again = compute_caa_run(*m, o);
  const std::string dir = (std::filesystem::temp_directory_path() / "steer-caa-run-test").string();
  std::filesystem::remove_all(dir);
  write_caa_run(again, dir);

  for (const char* f : {"summary.json", "vectors.safetensors", "vectors.gguf", "layer_sweep.csv", "multiplier_sweep.csv",
                        "baselines.csv", "guard.csv", "open_ended.json", "layer_sweep.svg", "multiplier_sweep.svg",
                        "layer_cosine.svg", "compare_cosine.svg", "report.html"})
    EXPECT_TRUE(std::filesystem::exists(dir + "/" + f)) << f;
  nlohmann::json s = nlohmann::json::parse(std::ifstream(dir + "/summary.json"));
  EXPECT_EQ(s["behavior"], "synthetic");
  const int L = s["best_layer"].get<int>();
  EXPECT_GE(L, 0);
  EXPECT_LT(L, m->config().n_layers);
  ASSERT_EQ(s["layer_sweep"].size(), size_t(m->config().n_layers) * 3);
  double p0 = -1;
  for (const auto& r : s["layer_sweep"]) {
    EXPECT_TRUE(r.contains("layer") && r.contains("multiplier") && r.contains("p_matching"));
    if (r["multiplier"] == 0.0) {
      if (p0 < 0) p0 = r["p_matching"];
      EXPECT_DOUBLE_EQ(r["p_matching"].get<double>(), p0) << "m = 0 is the same model at every layer";
    }
  }
  ASSERT_EQ(s["multiplier_sweep"].size(), 3u);
  for (const auto& r : s["multiplier_sweep"]) {
    const double p = r["p_matching"], lo = r["ci95"][0], hi = r["ci95"][1];
    EXPECT_LE(lo, p);
    EXPECT_LE(p, hi);
    // The same unsteered rows in a batch of another size: float32 matmul rounding only.
    if (r["multiplier"] == 0.0) EXPECT_NEAR(p, p0, 1e-5);
  }
  // Given the run's own vectors, the second run's sweep equals the first's.
  for (size_t i = 0; i < run.multiplier_scores.size(); ++i)
    EXPECT_NEAR(again.multiplier_scores[i].p.mean, run.multiplier_scores[i].p.mean, 1e-9);
  EXPECT_EQ(again.best.layer, run.best.layer);
  ASSERT_EQ(again.compare_cosine.size(), 2u);
  for (const auto& [name, cosines] : again.compare_cosine)
    for (const auto& [layer, c] : cosines) EXPECT_NEAR(c, 1.0, 1e-6) << name << " layer " << layer;
  EXPECT_EQ(again.compare_cosine[1].first, "model:stories260K.gguf");
  EXPECT_EQ(s["baselines"].size(), 6u);  // two few-shot prompts × (unsteered, −1, +1)
  EXPECT_EQ(s["guard"].size(), 3u);
  nlohmann::json oe = nlohmann::json::parse(std::ifstream(dir + "/open_ended.json"));
  EXPECT_EQ(oe.size(), 6u);  // two questions × (unsteered, −1, +1)
  // Every answer judged for refusal through the refusal-judge interface, counted per condition.
  ASSERT_EQ(s["open_ended_refusal"].size(), 3u);
  for (const auto& c : s["open_ended_refusal"])
    EXPECT_EQ(c["refused"].get<int>() + c["complied"].get<int>() + c["unjudged"].get<int>(), 2) << json_text(c);
  for (const auto& a : oe) EXPECT_TRUE(a.contains("refused_substring"));
  EXPECT_EQ(s["metadata"]["refusal_judge"]["kind"], "substring");
  DirectionSet v = load_directions(dir + "/vectors.safetensors");
  EXPECT_EQ(int(v.layers().size()), m->config().n_layers);
  std::filesystem::remove_all(dir);
}

// The fine-tuning baseline and the judge, end to end: the fine-tuned rows sit in the baselines
// table, training lowered the loss on the train pairs, and every open-ended answer and
// hand-labelled answer is either scored or counted as unscored (the tiny model is a poor judge).
TEST(CaaRun, FinetuneBaselineAndJudgedOpenEndedAnswers) {
  auto m = test::tiny_chat();
  CaaOptions o = small_run("refusal", 8, 4);  // a behaviour with a rubric and hand-labelled answers
  o.data.open_ended = {"Tell me about a cat.", "What is a boat?"};
  o.few_shot = 0;
  o.max_open_ended = 2;
  o.open_ended_tokens = 4;
  o.multipliers = {-1, 0, 1};
  o.finetune_steps = 4;
  o.finetune_batch = 4;
  o.finetune_lr = 3e-3;
  o.judge = m;
  CaaRun run = compute_caa_run(*m, o);
  ASSERT_EQ(run.finetune.size(), 2u);
  for (const FinetuneCurve& f : run.finetune) {
    EXPECT_EQ(f.step_loss.size(), 4u);
    EXPECT_LT(f.loss_after, f.loss_before) << f.towards;
  }
  ASSERT_EQ(run.baselines.size(), 6u);  // two fine-tunings × (unsteered, −1, +1)
  EXPECT_NE(run.baselines[0].condition.find("fine-tuned matching"), std::string::npos);
  ASSERT_EQ(run.open_ended_scores.size(), 3u);
  for (const JudgedCondition& c : run.open_ended_scores) EXPECT_EQ(c.scored + c.unscored, 2u);
  ASSERT_TRUE(run.judge_check);
  EXPECT_EQ(run.judge_check->items.size(), hand_labelled_answers("refusal").size());
  EXPECT_EQ(run.judge_check->scores.size(), run.judge_check->items.size());
  const std::string dir = (std::filesystem::temp_directory_path() / "steer-caa-ft-test").string();
  std::filesystem::remove_all(dir);
  write_caa_run(run, dir);
  for (const char* f : {"finetune_loss.csv", "finetune_loss.svg", "open_ended_scores.csv", "report.html"})
    EXPECT_TRUE(std::filesystem::exists(dir + "/" + f)) << f;
  nlohmann::json s = nlohmann::json::parse(std::ifstream(dir + "/summary.json"));
  EXPECT_EQ(s["finetune"].size(), 2u);
  EXPECT_TRUE(s.contains("judge_check"));
  std::filesystem::remove_all(dir);
}

TEST(CaaRun, TheHandLabelledAnswersAndRubricsCoverTheHeadlineBehaviours) {
  for (const char* b : {"refusal", "sycophancy", "hallucination"}) {
    std::vector<LabelledAnswer> items = hand_labelled_answers(b);
    ASSERT_GE(items.size(), 6u) << b;
    size_t high = 0;
    for (const LabelledAnswer& it : items) {
      EXPECT_TRUE(it.label == 0 || it.label == 10) << b;
      high += it.label == 10;
    }
    EXPECT_EQ(2 * high, items.size()) << b << ": as many answers show the behaviour as do not";
    EXPECT_FALSE(behavior_score_rubric(b).instruction.empty());
  }
  EXPECT_THROW(behavior_score_rubric("no-such-behaviour"), Error);
  EXPECT_NE(caa_system_prompt("sycophancy", "pos"), caa_system_prompt("sycophancy", "neg"));
  EXPECT_THROW(caa_system_prompt("sycophancy", "maybe"), Error);
  EXPECT_THROW(caa_system_prompt("no-such-behaviour", "pos"), Error);
}

TEST(CaaRun, JudgeScoresAreTheFirstIntegerInRange) {
  EXPECT_EQ(parse_score("7"), 7.0);
  EXPECT_EQ(parse_score("Score: 10/10"), 10.0);
  EXPECT_EQ(parse_score("<think>maybe 3</think> 8"), 8.0);
  EXPECT_EQ(parse_score(" 0"), 0.0);
  EXPECT_FALSE(parse_score("11"));
  EXPECT_FALSE(parse_score("7.5"));
  EXPECT_FALSE(parse_score("-2"));
  EXPECT_FALSE(parse_score("none"));
  EXPECT_FALSE(parse_score(""));
}

TEST(CaaRun, BadOptionsAreErrorsNamingTheOption) {
  auto m = test::tiny_chat();
  CaaOptions o = small_run("synthetic", 6, 3);
  auto message = [&](CaaOptions bad) {
    try {
      compute_caa_run(*m, bad);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CaaOptions a = o;
  a.max_test = 0;
  EXPECT_NE(message(a).find("--max-test"), std::string::npos);
  a = o;
  a.multipliers = {1.0, NAN};
  EXPECT_NE(message(a).find("multiplier"), std::string::npos);
  a = o;
  a.stacked_multipliers = {1e9};
  EXPECT_NE(message(a).find("multiplier"), std::string::npos);
  a = o;
  a.finetune_steps = 2;
  a.finetune_lr = NAN;
  EXPECT_NE(message(a).find("--finetune-lr"), std::string::npos);
  a = o;
  a.judge_batch = 0;
  EXPECT_NE(message(a).find("--judge-batch"), std::string::npos);
  a = o;
  a.layer = -5;
  EXPECT_NE(message(a).find("--layer"), std::string::npos);
  a = o;
  a.open_ended_tokens = -1;
  a.data.open_ended = {"Hi"};
  EXPECT_NE(message(a).find("--open-ended-tokens"), std::string::npos);
}

}  // namespace
}  // namespace steer
