// apply_linear (models/linear.h): float32 goes to oneDNN's sgemm where libtorch carries it; it must
// equal at::linear and leave its inputs alone (a one-row input once wrote into the bias).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "models/linear.h"
#include "steer/model.h"

namespace steer {
namespace {

// float32 sums over K ≤ 1536 unit-variance products (|y| ~ 40): the two GEMMs round differently.
constexpr double kTol = 1e-3;

TEST(Linear, Float32EqualsAtLinearWithAndWithoutBias) {
  set_compute_threads(0);
  at::manual_seed(3);
  for (auto [M, N, K] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 1152, 896}, {7, 576, 1536}, {64, 960, 576}}) {
    at::Tensor x = at::randn({1, M, K}), w = at::randn({N, K}), b = at::randn({N});
    at::Tensor y = apply_linear(x, w, b);
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, M, N}));
    EXPECT_LT((y - at::linear(x, w, b)).abs().max().item<double>(), kTol) << M << "×" << K << " → " << N;
    EXPECT_LT((apply_linear(x, w) - at::linear(x, w)).abs().max().item<double>(), kTol) << "no bias, M " << M;
  }
  std::printf("float32 linear layers run on: %s\n", float32_linear_backend());
}

TEST(Linear, InputsAreLeftAlone) {
  at::manual_seed(4);
  at::Tensor x = at::randn({1, 1, 64}), w = at::randn({32, 64}), b = at::randn({32});
  at::Tensor x0 = x.clone(), w0 = w.clone(), b0 = b.clone();
  apply_linear(x, w, b);
  apply_linear(x, w, b);
  EXPECT_TRUE(at::equal(x, x0));
  EXPECT_TRUE(at::equal(w, w0));
  EXPECT_TRUE(at::equal(b, b0)) << "the bias was written into";
}

TEST(Linear, OtherDtypesAndLayoutsTakeAtLinear) {
  at::manual_seed(5);
  at::Tensor x = at::randn({3, 5, 16}), w = at::randn({16, 8}).t();  // a transposed (non-contiguous) weight
  EXPECT_LT((apply_linear(x, w) - at::linear(x, w)).abs().max().item<double>(), 1e-5);
  at::Tensor xb = x.to(at::kBFloat16), wb = at::randn({8, 16}).to(at::kBFloat16);
  EXPECT_TRUE(at::equal(apply_linear(xb, wb), at::linear(xb, wb)));
}

}  // namespace
}  // namespace steer
