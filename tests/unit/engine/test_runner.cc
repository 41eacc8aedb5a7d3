// The batch runner (steer/runner.h) on the real tiny model (stories260K, llama, F32): batch
// plans, shared prefixes, and a decode batch whose rows join and leave between steps must
// compute, for every row, what that row computes alone.
//
// Tolerance: fp32 forwards of different batch shapes reduce in different orders, ~1e-6
// relative in the logits; 1e-5 leaves room without hiding a wrong position or cache slot
// (which moves logits by far more than 1e-2).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "steer/error.h"
#include "steer/generate.h"
#include "steer/interventions.h"
#include "steer/runner.h"
#include "steer/tokenizer.h"
#include "tiny_models.h"

namespace steer {
namespace {

using test::tiny;

constexpr double kTol = 1e-5;

double max_rel(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(1e-12, b.abs().max().item<double>());
}

// Prompts that share a long prefix and differ in length after it.
std::vector<EncodedPrompt> prompts_sharing_a_prefix(const Model& m) {
  std::vector<EncodedPrompt> out;
  for (const char* end : {"Lily", "a dog named Max who liked to run", "Tom. He", "a big red ball and a cat",
                          "a girl", "the sun, and the moon and the stars in the sky"})
    out.push_back(encode_raw_prompt(m, std::string("Once upon a time, there was a little girl who saw ") + end));
  return out;
}

// The next-token logits of one sequence: a plain forward over all of it, no cache.
at::Tensor alone(const Model& m, const std::vector<int32_t>& seq) {
  BatchState st;
  return m.forward(make_batch({seq}, m.pad_id(), st), st)[0];
}

TEST(Runner, PlansBatchesByLengthOrAsGiven) {
  auto m = tiny();
  auto prompts = prompts_sharing_a_prefix(*m);
  Runner sorted(*m, {4});
  auto plan = sorted.plan(prompts);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].size(), 4u);
  EXPECT_EQ(plan[1].size(), 2u);
  std::vector<int64_t> flat;
  for (auto& b : plan) flat.insert(flat.end(), b.begin(), b.end());
  for (size_t i = 1; i < flat.size(); ++i)
    EXPECT_LE(prompts[flat[i - 1]].ids.size(), prompts[flat[i]].ids.size());
  Runner given(*m, {4, /*sort_by_length=*/false});
  EXPECT_EQ(given.plan(prompts), (std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {4, 5}}));
  EXPECT_THROW(Runner(*m, {0}), Error);
}

TEST(Runner, SharesAPrefixOnlyWithoutPerRowHooks) {
  auto m = tiny();
  auto prompts = prompts_sharing_a_prefix(*m);
  Runner runner(*m);
  HookSet hooks(m->config().n_layers);
  PrepareArgs prep;
  prep.prefix_hooks = &hooks;
  EXPECT_GE(runner.prepare(prompts, {0, 1, 2}, prep).state.prefix, 8);
  Steering one_row;
  one_row.add(at::ones({m->config().d_model}), 1.f, {1}).for_rows({1});
  SteeringScope scope = one_row.attach(hooks, *m);
  EXPECT_TRUE(hooks.has_per_row_hooks());
  EXPECT_EQ(runner.prepare(prompts, {0, 1, 2}, prep).state.prefix, 0);
  EXPECT_THROW(runner.run_prefix({1, 2, 3, 4}, 4, 4, {&hooks}), Error);
  scope.reset();
  EXPECT_FALSE(hooks.has_per_row_hooks());
}

TEST(Runner, RunCoversEveryPromptOnceWithItsOwnLogits) {
  auto m = tiny();
  auto prompts = prompts_sharing_a_prefix(*m);
  std::vector<int> seen(prompts.size(), 0);
  Runner(*m, {4}).run(prompts, {}, {}, [&](const PromptBatch& b, const at::Tensor& logits) {
    EXPECT_EQ(b.state.row_id, b.rows);
    for (size_t r = 0; r < b.rows.size(); ++r) {
      ++seen[b.rows[r]];
      EXPECT_LT(max_rel(logits[r], alone(*m, prompts[b.rows[r]].ids)), kTol) << "prompt " << b.rows[r];
    }
  });
  EXPECT_EQ(seen, std::vector<int>(prompts.size(), 1));
}

// Rows join a running batch (whose rows share a prefix), step, leave; at every step each row's
// logits equal a plain forward over that row's tokens alone.
TEST(DecodeBatch, RowsThatJoinAndLeaveComputeWhatTheyWouldAlone) {
  auto m = tiny();
  auto prompts = prompts_sharing_a_prefix(*m);
  Runner runner(*m, {8});
  DecodeBatch batch(runner);
  std::map<int64_t, std::vector<int32_t>> seq;  // id → its tokens so far
  std::map<int64_t, at::Tensor> next_logits;   // id → its latest next-token logits

  auto join = [&](std::vector<int64_t> which, std::vector<int64_t> ids, int64_t reserve) {
    std::vector<EncodedPrompt> p;
    for (size_t i = 0; i < which.size(); ++i) {
      p.push_back(prompts[which[i]]);
      seq[ids[i]] = prompts[which[i]].ids;
    }
    at::Tensor logits = batch.join(p, ids, reserve);
    for (size_t i = 0; i < ids.size(); ++i) next_logits[ids[i]] = logits[i];
  };
  auto check = [&](const std::string& when) {
    for (int64_t id : batch.ids())
      EXPECT_LT(max_rel(next_logits[id], alone(*m, seq[id])), kTol) << "row " << id << " " << when;
  };
  auto step = [&](const std::string& when) {
    std::vector<int32_t> next;
    for (int64_t id : batch.ids()) {
      next.push_back(int32_t(next_logits[id].argmax().item<int64_t>()));
      seq[id].push_back(next.back());
    }
    at::Tensor logits = batch.step(next);
    for (size_t b = 0; b < batch.ids().size(); ++b) next_logits[batch.ids()[b]] = logits[b];
    check(when);
  };

  join({0, 1}, {10, 11}, /*reserve=*/2);  // a small reservation: steps must grow the cache
  EXPECT_GT(batch.state().prefix, 0) << "the two prompts share a prefix";
  check("after the first prefill");
  for (int i = 0; i < 4; ++i) step("before anyone joined");
  join({2, 3}, {12, 13}, 4);
  EXPECT_EQ(batch.ids(), (std::vector<int64_t>{10, 11, 12, 13}));
  check("right after joining");
  for (int i = 0; i < 3; ++i) step("after joining");
  const int64_t slots_before = batch.state().length;
  batch.leave({11, 12});  // 11 is the longest row: the padding left in front of every row goes
  EXPECT_EQ(batch.ids(), (std::vector<int64_t>{10, 13}));
  EXPECT_LT(batch.state().length, slots_before);
  for (int i = 0; i < 3; ++i) step("after two left");
  join({5}, {14}, 3);
  for (int i = 0; i < 3; ++i) step("after a third join");
  batch.leave({10, 13, 14});
  EXPECT_TRUE(batch.empty());

  EXPECT_THROW(batch.step({}), Error);
  join({4}, {20}, 1);
  EXPECT_THROW(batch.join({prompts[0]}, {20}), Error) << "ids must be unique";
  EXPECT_THROW(batch.leave({99}), Error);
}

// Continuous batching in generate(): more prompts than rows, rows finishing at different steps,
// new prompts joining; each prompt's text equals generating it alone, greedy and sampled.
TEST(Generate, ContinuousBatchingEqualsOneAtATime) {
  auto m = tiny();
  auto prompts = prompts_sharing_a_prefix(*m);
  GenerateOptions opt;
  opt.max_new_tokens = 10;
  opt.batch_size = 2;
  opt.stop_strings = {"."};  // rows stop at different steps
  std::vector<int64_t> finished;
  opt.on_finished = [&](int64_t i) { finished.push_back(i); };
  auto together = generate(*m, prompts, opt);
  std::sort(finished.begin(), finished.end());
  EXPECT_EQ(finished, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  opt.on_finished = nullptr;
  std::set<size_t> lengths;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto one = generate(*m, {prompts[i]}, opt);
    EXPECT_EQ(together[i].ids, one[0].ids) << "prompt " << i;
    EXPECT_EQ(together[i].finish_reason, one[0].finish_reason) << "prompt " << i;
    EXPECT_EQ(together[i].prompt_ids, prompts[i].ids);
    lengths.insert(one[0].ids.size());
  }
  EXPECT_GT(lengths.size(), 1u) << "every row stopped at the same step: the test joins nothing mid-way";

  opt.stop_strings.clear();
  opt.sampling.temperature = 0.8f;
  opt.sampling.seed = 3;
  auto sampled_2 = generate(*m, prompts, opt);
  opt.batch_size = 6;
  auto sampled_6 = generate(*m, prompts, opt);
  for (size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(sampled_2[i].ids, sampled_6[i].ids) << "a sampled text depends on its batch, prompt " << i;
}

// A coefficient so large the residual stream overflows turns the logits into NaN; generation
// stops with an error naming the cause instead of printing garbage with exit 0 (issue 16, class 6).
TEST(Generate, NonFiniteLogitsAreAnError) {
  auto m = tiny();
  auto prompts = prompts_sharing_a_prefix(*m);
  GenerateOptions opt;
  opt.max_new_tokens = 3;
  HookSet hooks(m->config().n_layers);
  Steering huge;
  std::vector<int> layers;
  for (int l = 0; l < m->config().n_layers; ++l) layers.push_back(l);
  huge.then(make_add(at::full({m->config().d_model}, 1e30f), 1e30f, layers));
  SteeringScope scope = huge.attach(hooks, *m);
  std::string message, hint;
  try {
    generate(*m, prompts, opt, &hooks);
  } catch (const Error& e) {
    message = e.what();
    hint = e.hint();
  }
  EXPECT_NE(message.find("not finite"), std::string::npos) << message;
  EXPECT_NE(hint.find("smaller coefficient"), std::string::npos) << hint;
  scope.reset();
  EXPECT_NO_THROW(generate(*m, prompts, opt, &hooks));  // unsteered, the same prompts are fine
}

}  // namespace
}  // namespace steer
