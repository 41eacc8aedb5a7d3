#include "models/elementwise_cpu.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>

#include "core/cpu.h"
#include "steer/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace steer {

#if defined(__x86_64__)
namespace {

// glibc's vector expf (libmvec; ≤ 1 ulp, as its scalar expf).
// The target attribute: clang refuses an __m256 argument to a function declared without AVX.
extern "C" __attribute__((target("avx2"))) __m256 _ZGVdN8v_expf(__m256);

__attribute__((target("avx2,fma"))) float sum_of_squares(const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
    __m256 x2 = _mm256_loadu_ps(x + i + 16), x3 = _mm256_loadu_ps(x + i + 24);
    a0 = _mm256_fmadd_ps(x0, x0, a0);
    a1 = _mm256_fmadd_ps(x1, x1, a1);
    a2 = _mm256_fmadd_ps(x2, x2, a2);
    a3 = _mm256_fmadd_ps(x3, x3, a3);
  }
  for (; i + 8 <= n; i += 8) {
    __m256 x0 = _mm256_loadu_ps(x + i);
    a0 = _mm256_fmadd_ps(x0, x0, a0);
  }
  __m256 a = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  float s = _mm_cvtss_f32(h);
  for (; i < n; ++i) s += x[i] * x[i];
  return s;
}

// y = (x · inv) · w, each product rounded (HF: hidden * rsqrt(var + eps), then weight * hidden).
__attribute__((target("avx2,fma"))) void scale_row(const float* x, float inv, const float* w, float* y, int64_t n) {
  const __m256 vi = _mm256_set1_ps(inv);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vi), _mm256_loadu_ps(w + i)));
  for (; i < n; ++i) {
    float h = x[i] * inv;
    y[i] = h * w[i];
  }
}

// y = silu(g) · u = (g / (1 + exp(−g))) · u, as libtorch's silu then mul.
__attribute__((target("avx2,fma"))) void silu_mul_row(const float* g, const float* u, float* y, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.f), sign = _mm256_set1_ps(-0.f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 gv = _mm256_loadu_ps(g + i);
    __m256 e = _ZGVdN8v_expf(_mm256_xor_ps(gv, sign));
    __m256 s = _mm256_div_ps(gv, _mm256_add_ps(one, e));
    _mm256_storeu_ps(y + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
  }
  for (; i < n; ++i) {
    float s = g[i] / (1.f + std::exp(-g[i]));
    y[i] = s * u[i];
  }
}

}  // namespace

bool fused_elementwise_supported(const at::Tensor& x) {
  return x.scalar_type() == at::kFloat && x.device().is_cpu() && cpu_features().avx2 && cpu_features().fma;
}

at::Tensor rms_norm_f32(const at::Tensor& x, const at::Tensor& weight, float eps) {
  const int64_t d = x.size(-1);
  if (!fused_elementwise_supported(x) || !x.is_contiguous() || weight.scalar_type() != at::kFloat ||
      !weight.is_contiguous() || weight.numel() != d)
    fail("rms_norm_f32: x must be contiguous float32 [..., d] on a CPU with AVX2, weight float32 [d]");
  at::Tensor y = at::empty_like(x);
  const int64_t rows = d == 0 ? 0 : x.numel() / d;
  const float* xp = x.data_ptr<float>();
  const float* wp = weight.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* xr = xp + r * d;
      const float var = sum_of_squares(xr, d) / float(d);
      scale_row(xr, 1.f / std::sqrt(var + eps), wp, yp + r * d, d);
    }
  });
  return y;
}

at::Tensor silu_mul_f32(const at::Tensor& gate_up) {
  const int64_t two_f = gate_up.size(-1), F = two_f / 2;
  if (!fused_elementwise_supported(gate_up) || !gate_up.is_contiguous() || two_f % 2 != 0)
    fail("silu_mul_f32: gate_up must be contiguous float32 [..., 2·d_ffn] on a CPU with AVX2");
  std::vector<int64_t> shape(gate_up.sizes().begin(), gate_up.sizes().end());
  shape.back() = F;
  at::Tensor y = at::empty(shape, gate_up.options());
  const int64_t rows = F == 0 ? 0 : y.numel() / F;
  const float* gp = gate_up.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  at::parallel_for(0, rows, 4, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) silu_mul_row(gp + r * two_f, gp + r * two_f + F, yp + r * F, F);
  });
  return y;
}

#else  // not x86-64: the decoder keeps the libtorch ops

bool fused_elementwise_supported(const at::Tensor&) { return false; }
at::Tensor rms_norm_f32(const at::Tensor&, const at::Tensor&, float) { fail("rms_norm_f32: needs x86-64"); }
at::Tensor silu_mul_f32(const at::Tensor&) { fail("silu_mul_f32: needs x86-64"); }

#endif

}  // namespace steer
