// The CPU attention kernels (models/attention_cpu.h) against the libtorch ops they replace in the
// decoder: rope_into must round exactly as the chain of libtorch ops (float32 and bf16), and
// attention_f32 must equal softmax(scale·q·kᵀ + mask)·v to float32 rounding, for grouped-query
// heads, padding and causal masks, a cache longer than the queries, strided values, softcapping,
// and both its AVX2 (head_dim a multiple of 16) and plain-loop (any head_dim) paths.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>

#include "models/attention_cpu.h"
#include "steer/error.h"
#include "steer/model.h"

namespace steer {
namespace {

// What the decoder computed before these kernels (and still does off the CPU).
at::Tensor rope_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  int64_t half = x.size(-1) / 2;
  at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  at::Tensor c = cos.unsqueeze(2), s = sin.unsqueeze(2);
  return at::cat({x1 * c - x2 * s, x2 * c + x1 * s}, -1);
}

TEST(AttentionCpu, RopeIntoRoundsExactlyAsLibtorchOps) {
  at::manual_seed(11);
  for (at::ScalarType dt : {at::kFloat, at::kBFloat16}) {
    const int64_t B = 3, T = 7, H = 5, hd = 64;
    at::Tensor qkv = at::randn({B, T, (H + 2) * hd}).to(dt);
    at::Tensor x = qkv.narrow(-1, hd, H * hd).view({B, T, H, hd});  // a strided view, as in the decoder
    at::Tensor angles = at::rand({B, T, hd / 2}) * 40;
    at::Tensor cos = angles.cos().to(dt), sin = angles.sin().to(dt);
    at::Tensor out = at::empty({B, H, T, hd}, x.options());  // written through a transposed view
    at::Tensor dst = out.transpose(1, 2);
    rope_into(x, cos, sin, dst);
    EXPECT_TRUE(at::equal(dst, rope_reference(x, cos, sin))) << at::toString(dt);
  }
}

TEST(AttentionCpu, RopeIntoRejectsMismatchedTables) {
  at::Tensor x = at::randn({2, 3, 4, 8}), dst = at::empty_like(x);
  EXPECT_THROW(rope_into(x, at::randn({2, 3, 3}), at::randn({2, 3, 3}), dst), Error);
}

// mask [B, T, S]: query t of row b sees keys ≤ its slot (S − T + t) and not the row's left padding.
at::Tensor causal_padding_mask(int64_t B, int64_t T, int64_t S, const std::vector<int64_t>& pad) {
  at::Tensor m = at::zeros({B, T, S});
  auto a = m.accessor<float, 3>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t s = 0; s < S; ++s)
        if (s > S - T + t || s < pad[b]) a[b][t][s] = -std::numeric_limits<float>::infinity();
  return m;
}

at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                               float scale, float softcap) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), hd = q.size(3), Hkv = k.size(1), S = k.size(2);
  const int64_t G = H / Hkv;
  at::Tensor scores = at::matmul(q.reshape({B, Hkv, G * T, hd}), k.transpose(-1, -2)) * scale;
  if (softcap > 0) scores = at::tanh(scores / softcap) * softcap;
  scores = scores.view({B, Hkv, G, T, S}) + mask.view({B, 1, 1, T, S});
  at::Tensor probs = at::softmax(scores, -1).view({B, Hkv, G * T, S});
  return at::matmul(probs, v).view({B, H, T, hd}).transpose(1, 2);  // [B, T, H, hd]
}

TEST(AttentionCpu, Float32EqualsLibtorchAttention) {
  set_compute_threads(0);
  at::manual_seed(12);
  struct Case {
    int64_t B, H, Hkv, T, S, hd;
    float softcap;
  };
  // hd 64 and 128 take the AVX2 tiles (where the CPU has them), hd 24 the plain loops; T = S is a
  // prefill, T < S a continuation from a cache, T = 1 a decode step; 9 rows tile as 4 + 4 + 1.
  for (Case c : {Case{2, 9, 3, 11, 11, 64, 0.f}, Case{3, 4, 4, 5, 37, 128, 0.f}, Case{1, 8, 2, 1, 19, 64, 0.f},
                 Case{2, 6, 2, 9, 30, 24, 0.f}, Case{2, 4, 2, 6, 17, 64, 30.f}}) {
    at::Tensor q = at::randn({c.B, c.H, c.T, c.hd});
    at::Tensor k = at::randn({c.B, c.Hkv, c.S, c.hd});
    // values as a strided view (rows 3·hd apart), as the decoder passes qkv's slice without a cache
    at::Tensor v = at::randn({c.B, c.S, c.Hkv, 3 * c.hd}).narrow(-1, c.hd, c.hd).transpose(1, 2);
    std::vector<int64_t> pad(c.B);
    for (int64_t b = 0; b < c.B; ++b) pad[b] = (b * 3) % std::max<int64_t>(1, c.S - c.T + 1);
    at::Tensor mask = causal_padding_mask(c.B, c.T, c.S, pad);
    const float scale = 1.f / std::sqrt(float(c.hd));
    at::Tensor z = attention_f32(q, k, v, mask, scale, c.softcap);
    ASSERT_EQ(z.sizes(), (std::vector<int64_t>{c.B, c.T, c.H, c.hd}));
    // float32 sums of ≤ 128 products in another order (and with FMA): |z| ≤ ~3
    EXPECT_LT((z - attention_reference(q, k, v, mask, scale, c.softcap)).abs().max().item<double>(), 2e-5)
        << "B " << c.B << " H " << c.H << " Hkv " << c.Hkv << " T " << c.T << " S " << c.S << " hd " << c.hd;
  }
}

TEST(AttentionCpu, Float32RejectsBadShapes) {
  at::Tensor q = at::randn({1, 4, 2, 16}), k = at::randn({1, 3, 5, 16}), m = at::zeros({1, 2, 5});
  EXPECT_THROW(attention_f32(q, k, k, m, 1.f, 0.f), Error);  // 4 query heads over 3 kv heads
  at::Tensor k2 = at::randn({1, 2, 5, 16});
  EXPECT_THROW(attention_f32(q, k2, k2, at::zeros({1, 2, 4}), 1.f, 0.f), Error);  // mask too short
}

}  // namespace
}  // namespace steer
