// The fused float32 kernels (models/elementwise_cpu.h) against the chains of libtorch ops that HF's
// RMSNorm and SwiGLU are: equal to float32 rounding (the sum of squares and exp in another order).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "models/elementwise_cpu.h"
#include "steer/error.h"
#include "steer/model.h"

namespace steer {
namespace {

TEST(ElementwiseCpu, RmsNormEqualsHfFormula) {
  at::Tensor probe = at::zeros({1});
  if (!fused_elementwise_supported(probe)) GTEST_SKIP() << "this CPU has no AVX2 + FMA: the decoder uses libtorch ops";
  set_compute_threads(0);
  at::manual_seed(21);
  for (int64_t d : {576, 64, 37}) {  // d_model, a head's qk-norm, and a length with a scalar tail
    at::Tensor x = at::randn({3, 50, d}) * 4, w = at::randn({d});
    const float eps = 1e-5f;
    at::Tensor ref = w * (x * at::rsqrt(x.pow(2).mean(-1, true) + eps));  // HF LlamaRMSNorm in float32
    at::Tensor y = rms_norm_f32(x, w, eps);
    ASSERT_EQ(y.sizes(), x.sizes());
    EXPECT_LT(((y - ref).abs() / (ref.abs() + 1e-3)).max().item<double>(), 1e-5) << "d " << d;
  }
}

TEST(ElementwiseCpu, SiluMulEqualsLibtorch) {
  at::Tensor probe = at::zeros({1});
  if (!fused_elementwise_supported(probe)) GTEST_SKIP() << "this CPU has no AVX2 + FMA: the decoder uses libtorch ops";
  at::manual_seed(22);
  for (int64_t f : {1536, 13}) {
    at::Tensor gate_up = at::randn({4, 9, 2 * f}) * 6;
    at::Tensor ref = at::silu(gate_up.narrow(-1, 0, f)) * gate_up.narrow(-1, f, f);
    at::Tensor y = silu_mul_f32(gate_up);
    ASSERT_EQ(y.sizes(), ref.sizes());
    EXPECT_LT(((y - ref).abs() / (ref.abs() + 1e-3)).max().item<double>(), 1e-5) << "d_ffn " << f;
  }
}

TEST(ElementwiseCpu, OnlyFloat32OnTheCpu) {
  EXPECT_FALSE(fused_elementwise_supported(at::zeros({2}, at::kBFloat16)));
  EXPECT_THROW(rms_norm_f32(at::zeros({2, 4}).t(), at::ones({2}), 1e-5f), Error);  // not contiguous
}

}  // namespace
}  // namespace steer
