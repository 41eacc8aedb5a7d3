// Logit metrics (steer/metrics.h): refusal_score and kl_divergence against the paper's
// formulas written out by hand in double precision, their edge cases and errors; the refusal
// tokens of the tiny model and the override parser.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "steer/error.h"
#include "steer/metrics.h"
#include "steer/model.h"
#include "steer/tokenizer.h"
#include "test_errors.h"
#include "tiny_models.h"

namespace steer {
namespace {

using test::error_of;
using test::tiny;

std::vector<double> softmax(const std::vector<double>& x) {
  double m = x[0];
  for (double v : x) m = std::max(m, v);
  double z = 0;
  for (double v : x) z += std::exp(v - m);
  std::vector<double> p;
  for (double v : x) p.push_back(std::exp(v - m) / z);
  return p;
}

const std::vector<std::vector<double>> kRows = {
    {0.5, -1.25, 3.0, 0.0, 2.0, -4.0}, {10.0, 9.5, -3.0, 0.25, 1.0, 0.0}, {-2.0, -2.0, -2.0, -2.0, -2.0, -2.0}};

at::Tensor logits_of(const std::vector<std::vector<double>>& rows, at::ScalarType dtype = at::kFloat) {
  at::Tensor t = at::empty({int64_t(rows.size()), int64_t(rows[0].size())}, at::kDouble);
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < rows[i].size(); ++j) t[i][j] = rows[i][j];
  return t.to(dtype);
}

TEST(RefusalScore, MatchesThePapersFormula) {
  const std::vector<int32_t> R = {2, 4};
  at::Tensor got = refusal_score(logits_of(kRows, at::kDouble), R);
  ASSERT_EQ(got.scalar_type(), at::kDouble);
  ASSERT_EQ(got.sizes(), at::IntArrayRef({3}));
  for (size_t i = 0; i < kRows.size(); ++i) {
    std::vector<double> p = softmax(kRows[i]);
    double s = p[2] + p[4];
    double want = std::log(s + 1e-8) - std::log(1 - s + 1e-8);
    EXPECT_NEAR(got[i].item<double>(), want, 1e-12) << "row " << i;
  }
  // Uniform row: s = 2/6, score = log(1/3) - log(2/3) = -log 2.
  EXPECT_NEAR(got[2].item<double>(), -std::log(2.0), 1e-7);
}

TEST(RefusalScore, Float32LogitsAreCastBeforeTheSoftmax) {
  // float32 logits hold these values exactly, so the float64 result must be the same.
  at::Tensor a = refusal_score(logits_of(kRows, at::kFloat), {1});
  at::Tensor b = refusal_score(logits_of(kRows, at::kDouble), {1});
  EXPECT_TRUE(at::equal(a, b));
}

TEST(RefusalScore, SaturatesFiniteAndCountsRepeatsOnce) {
  // All mass on the refusal token: log(1 + 1e-8) - log(1e-8) ≈ 18.42, finite (the epsilon).
  at::Tensor l = logits_of({{1000.0, 0.0, 0.0}}, at::kDouble);
  EXPECT_NEAR(refusal_score(l, {0}).item<double>(), std::log(1 + 1e-8) - std::log(1e-8), 1e-9);
  EXPECT_NEAR(refusal_score(l, {1}).item<double>(), std::log(1e-8) - std::log(1 + 1e-8), 1e-9);
  EXPECT_TRUE(at::equal(refusal_score(logits_of(kRows), {2, 2, 4}), refusal_score(logits_of(kRows), {2, 4})));
}

TEST(RefusalScore, Errors) {
  at::Tensor l = logits_of(kRows);
  EXPECT_NE(error_of([&] { refusal_score(l, {}); }).find("no refusal tokens"), std::string::npos);
  EXPECT_NE(error_of([&] { refusal_score(l, {6}); }).find("token 6 is outside the vocabulary of 6"),
            std::string::npos);
  EXPECT_NE(error_of([&] { refusal_score(l.unsqueeze(0), {1}); }).find("[1, 3, 6]"), std::string::npos);
}

TEST(KlDivergence, MatchesThePapersFormula) {
  std::vector<std::vector<double>> other = {
      {0.0, 0.0, 0.0, 0.0, 0.0, 0.0}, {9.0, 10.0, -1.0, 0.0, 0.5, 30.0}, {-2.0, -2.0, -2.0, -2.0, -2.0, 5.0}};
  at::Tensor got = kl_divergence(logits_of(kRows), logits_of(other));
  ASSERT_EQ(got.scalar_type(), at::kDouble);
  for (size_t i = 0; i < kRows.size(); ++i) {
    std::vector<double> p = softmax(kRows[i]), q = softmax(other[i]);
    double want = 0;
    for (size_t v = 0; v < p.size(); ++v) want += p[v] * (std::log(p[v] + 1e-6) - std::log(q[v] + 1e-6));
    EXPECT_NEAR(got[i].item<double>(), want, 1e-12) << "row " << i;
    EXPECT_GT(got[i].item<double>(), 0.0);
  }
}

TEST(KlDivergence, ZeroOnEqualLogitsAndShapeErrors) {
  at::Tensor l = logits_of(kRows);
  EXPECT_TRUE(at::equal(kl_divergence(l, l), at::zeros({3}, at::kDouble)));
  std::string e = error_of([&] { kl_divergence(l, l.narrow(0, 0, 2)); });
  EXPECT_NE(e.find("[3, 6]"), std::string::npos) << e;
  EXPECT_NE(e.find("[2, 6]"), std::string::npos) << e;
}

TEST(RefusalTokens, TinyModelIsOneTokenForI) {
  const Model& m = *tiny();
  std::vector<int32_t> R = refusal_tokens_for(m);
  ASSERT_EQ(R.size(), 1u);  // llama arch: "I" only
  EXPECT_EQ(R[0], m.tokenizer().encode("I", false, false).at(0));
  EXPECT_EQ(m.tokenizer().decode(R), "I");
}

TEST(RefusalTokens, ParseOverride) {
  const Model& m = *tiny();
  const int32_t i_id = refusal_tokens_for(m)[0];
  EXPECT_EQ(parse_refusal_tokens(m, "I"), std::vector<int32_t>({i_id}));
  EXPECT_EQ(parse_refusal_tokens(m, " I , #7,#7, #0"), std::vector<int32_t>({i_id, 7, 0}));
  EXPECT_NE(error_of([&] { parse_refusal_tokens(m, "#512"); }).find("\"#512\" is outside the vocabulary of 512"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse_refusal_tokens(m, "#x1"); }).find("\"#x1\""), std::string::npos);
  EXPECT_NE(error_of([&] { parse_refusal_tokens(m, "I,,#3"); }).find("empty piece"), std::string::npos);
  EXPECT_NE(error_of([&] { parse_refusal_tokens(m, ""); }).find("empty piece"), std::string::npos);
  std::string e = error_of([&] { parse_refusal_tokens(m, "I,xylophone"); });
  EXPECT_NE(e.find("\"xylophone\" encodes to"), std::string::npos) << e;
  EXPECT_NE(e.find("stories260K"), std::string::npos) << e;  // names the model
}

}  // namespace
}  // namespace steer
