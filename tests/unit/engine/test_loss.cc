// Teacher-forced cross-entropy (steer/metrics.h) on the real tiny model: continuation_loss
// equals a brute-force computation (one forward per example, log-softmax by hand in double),
// left-padded batches give the per-example numbers of batch size 1, hooks are applied, and
// text_loss is continuation_loss with the first token as the prompt.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "steer/error.h"
#include "steer/generate.h"
#include "steer/metrics.h"
#include "steer/model.h"
#include "steer/tokenizer.h"
#include "test_errors.h"
#include "tiny_models.h"

namespace steer {
namespace {

using test::error_of;
using test::tiny;

// fp32 forwards of different batch shapes reduce in different orders.
constexpr double kBatchTol = 1e-5;

struct Case {
  std::string prompt, target;
};
const std::vector<Case> kCases = {{"Once upon a time", " there was a little girl named Lily."},
                                  {"The dog", " ran to the park and played with a red ball all day long."},
                                  {"Tom was sad because", " his toy was broken."},
                                  {"She saw a big tree", " ."},
                                  {"One day, a cat and a bird", " were friends. They liked to play in the sun."}};

void encode_cases(const Model& m, std::vector<EncodedPrompt>* prompts, std::vector<std::vector<int32_t>>* targets) {
  for (const Case& c : kCases) {
    prompts->push_back(encode_raw_prompt(m, c.prompt));
    targets->push_back(m.tokenizer().encode_continuation(c.target));
  }
}

// Σ −log p(target_j | prompt, target_<j) with one unpadded forward and a double log-softmax.
double brute_nll(const Model& m, const std::vector<int32_t>& prompt, const std::vector<int32_t>& target) {
  std::vector<int32_t> seq = prompt;
  seq.insert(seq.end(), target.begin(), target.end());
  BatchState st;
  at::Tensor logits = m.forward(make_batch({seq}, m.pad_id(), st), st, {nullptr, LogitsMode::kAll})[0].to(at::kDouble);
  double nll = 0;
  for (size_t j = 0; j < target.size(); ++j) {
    at::Tensor row = logits[int64_t(prompt.size() + j - 1)];  // [vocab]
    double mx = row.max().item<double>();
    double lse = std::log((row - mx).exp().sum().item<double>()) + mx;
    nll -= row[target[j]].item<double>() - lse;
  }
  return nll;
}

TEST(ContinuationLoss, EqualsBruteForce) {
  const Model& m = *tiny();
  std::vector<EncodedPrompt> prompts;
  std::vector<std::vector<int32_t>> targets;
  encode_cases(m, &prompts, &targets);
  LossResult r = continuation_loss(m, prompts, targets, nullptr, /*batch_size=*/1, /*progress=*/false);
  double total = 0;
  int64_t n = 0;
  for (size_t i = 0; i < kCases.size(); ++i) {
    double nll = brute_nll(m, prompts[i].ids, targets[i]);
    double want = nll / targets[i].size();
    EXPECT_NEAR(r.per_example[i], want, 1e-6 * std::abs(want)) << kCases[i].prompt;
    total += nll;
    n += targets[i].size();
  }
  EXPECT_EQ(r.tokens, n);
  EXPECT_NEAR(r.mean_ce, total / n, 1e-6 * (total / n));
  EXPECT_GT(r.mean_ce, 0.0);
}

TEST(ContinuationLoss, PaddedBatchesEqualBatchSizeOne) {
  const Model& m = *tiny();
  std::vector<EncodedPrompt> prompts;
  std::vector<std::vector<int32_t>> targets;
  encode_cases(m, &prompts, &targets);
  LossResult one = continuation_loss(m, prompts, targets, nullptr, 1, false);
  for (int bs : {2, 3, 8}) {
    LossResult many = continuation_loss(m, prompts, targets, nullptr, bs, false);
    ASSERT_EQ(many.per_example.size(), one.per_example.size());
    for (size_t i = 0; i < one.per_example.size(); ++i)
      EXPECT_NEAR(many.per_example[i], one.per_example[i], kBatchTol * one.per_example[i]) << "batch " << bs;
    EXPECT_EQ(many.tokens, one.tokens);
    EXPECT_NEAR(many.mean_ce, one.mean_ce, kBatchTol * one.mean_ce);
  }
}

TEST(ContinuationLoss, AppliesHooksAndSkipsEmptyTargets) {
  const Model& m = *tiny();
  std::vector<EncodedPrompt> prompts;
  std::vector<std::vector<int32_t>> targets;
  encode_cases(m, &prompts, &targets);
  targets[1].clear();
  LossResult plain = continuation_loss(m, prompts, targets, nullptr, 4, false);
  EXPECT_TRUE(std::isnan(plain.per_example[1]));
  EXPECT_EQ(plain.tokens, int64_t(targets[0].size() + targets[2].size() + targets[3].size() + targets[4].size()));

  HookSet hooks(m.config().n_layers);
  hooks.add({SiteKind::kResidPost, 2}, [](at::Tensor& x, const HookContext&) { x.mul_(0.5); });
  LossResult hooked = continuation_loss(m, prompts, targets, &hooks, 4, false);
  EXPECT_GT(std::abs(hooked.mean_ce - plain.mean_ce), 1e-3);

  HookSet noop(m.config().n_layers);
  noop.add({SiteKind::kResidPost, 2}, [](at::Tensor&, const HookContext&) {});
  EXPECT_NEAR(continuation_loss(m, prompts, targets, &noop, 4, false).mean_ce, plain.mean_ce, 1e-12);
}

TEST(ContinuationLoss, Errors) {
  const Model& m = *tiny();
  std::vector<EncodedPrompt> prompts(1);
  prompts[0] = encode_raw_prompt(m, "Hi");
  EXPECT_NE(error_of([&] { continuation_loss(m, prompts, {}, nullptr, 1, false); }).find("1 prompts but 0 targets"),
            std::string::npos);
  EXPECT_NE(error_of([&] { continuation_loss(m, prompts, {{600}}, nullptr, 1, false); }).find("token 600"),
            std::string::npos);
  EXPECT_NE(error_of([&] { continuation_loss(m, prompts, {{5}}, nullptr, 0, false); }).find("batch size"),
            std::string::npos);
  prompts[0].ids.clear();
  EXPECT_NE(error_of([&] { continuation_loss(m, prompts, {{5}}, nullptr, 1, false); }).find("prompt 0 has no tokens"),
            std::string::npos);
}

TEST(TextLoss, IsContinuationLossAfterTheFirstToken) {
  const Model& m = *tiny();
  const std::vector<std::string> texts = {"Once upon a time there was a little girl named Lily. She liked to play.",
                                          "The big dog was happy.", "Tom"};
  std::vector<EncodedPrompt> prompts;
  std::vector<std::vector<int32_t>> targets;
  for (const std::string& t : texts) {
    std::vector<int32_t> ids = m.tokenizer().encode(t, m.tokenizer().add_bos_default());
    EncodedPrompt p;
    p.ids = {ids[0]};
    p.instruction_end = 1;
    prompts.push_back(p);
    targets.emplace_back(ids.begin() + 1, ids.end());
  }
  LossResult a = text_loss(m, texts, nullptr, 2, false);
  LossResult b = continuation_loss(m, prompts, targets, nullptr, 2, false);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_DOUBLE_EQ(a.mean_ce, b.mean_ce);
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_DOUBLE_EQ(a.per_example[i], b.per_example[i]);

  // Truncation: max_tokens = 4 scores 3 tokens of each text that has them.
  LossResult cut = text_loss(m, {texts[0]}, nullptr, 1, false, 4);
  EXPECT_EQ(cut.tokens, 3);
  EXPECT_NE(error_of([&] { text_loss(m, texts, nullptr, 1, false, 1); }).find("max tokens"), std::string::npos);
}

}  // namespace
}  // namespace steer
