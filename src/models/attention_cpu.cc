#include "models/attention_cpu.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/cpu.h"
#include "steer/error.h"

namespace steer {

namespace {

// One (row, position): every head's rotation. T is float, c10::BFloat16 or c10::Half, whose
// arithmetic rounds each product and sum back to T, as a chain of libtorch ops does.
template <typename T>
void rope_row(const T* src, int64_t src_head_stride, const T* cos, const T* sin, T* dst, int64_t dst_head_stride,
              int64_t heads, int64_t half) {
  for (int64_t h = 0; h < heads; ++h) {
    const T* x1 = src + h * src_head_stride;
    const T* x2 = x1 + half;
    T* y1 = dst + h * dst_head_stride;
    T* y2 = y1 + half;
    for (int64_t i = 0; i < half; ++i) {
      T a = x1[i] * cos[i], b = x2[i] * sin[i], c = x2[i] * cos[i], d = x1[i] * sin[i];
      y1[i] = a - b;
      y2[i] = c + d;
    }
  }
}

}  // namespace

void rope_into(const at::Tensor& src, const at::Tensor& cos, const at::Tensor& sin, at::Tensor& dst) {
  if (src.dim() != 4 || dst.sizes() != src.sizes() || src.stride(3) != 1 || dst.stride(3) != 1)
    fail("rope_into: src and dst must be [B, T, heads, head_dim] with unit last stride");
  const int64_t B = src.size(0), T = src.size(1), heads = src.size(2), half = src.size(3) / 2;
  if (!cos.is_contiguous() || !sin.is_contiguous() || cos.sizes() != at::IntArrayRef({B, T, half}) ||
      sin.sizes() != cos.sizes() || cos.scalar_type() != src.scalar_type() || dst.scalar_type() != src.scalar_type())
    fail("rope_into: cos and sin must be contiguous [B, T, head_dim / 2] in the activations' dtype");
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, src.scalar_type(), "rope_into", [&] {
    const scalar_t* s = src.data_ptr<scalar_t>();
    const scalar_t* c = cos.data_ptr<scalar_t>();
    const scalar_t* n = sin.data_ptr<scalar_t>();
    scalar_t* d = dst.data_ptr<scalar_t>();
    at::parallel_for(0, B * T, 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t b = i / T, t = i % T;
        rope_row(s + b * src.stride(0) + t * src.stride(1), src.stride(2), c + i * half, n + i * half,
                 d + b * dst.stride(0) + t * dst.stride(1), dst.stride(2), heads, half);
      }
    });
  });
}

namespace {

// One (row, kv head) group of float32 attention: G query heads × T positions that read the same
// keys and values.
struct GroupArgs {
  const float* q;     // [G·T, hd] contiguous (query head g's T rows at g·T)
  const float* k;     // [S, hd], row stride ldk
  const float* v;     // [S, hd], row stride ldv
  const float* mask;  // [T, S]
  float* z;           // row (g, t) goes to z + (t·H + g)·hd
  int64_t G, T, S, hd, H, ldk, ldv;
  float scale, softcap;

  float* z_row(int64_t r) const { return z + ((r % T) * H + r / T) * hd; }
  const float* mask_row(int64_t r) const { return mask + (r % T) * S; }
};

// Scores row → probabilities, as libtorch orders it: (q·kᵀ)·scale, softcap, + mask, softmax in float32.
template <typename ExpRow>
inline __attribute__((always_inline)) void softmax_row(float* __restrict sc, const float* __restrict m, int64_t S,
                                                      float scale, float softcap, ExpRow exp_row) {
  for (int64_t s = 0; s < S; ++s) sc[s] *= scale;
  if (softcap > 0)
    for (int64_t s = 0; s < S; ++s) sc[s] = std::tanh(sc[s] / softcap) * softcap;
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t s = 0; s < S; ++s) {
    sc[s] += m[s];
    mx = std::max(mx, sc[s]);
  }
  for (int64_t s = 0; s < S; ++s) sc[s] -= mx;
  exp_row(sc, S);
  float sum = 0.f;
  for (int64_t s = 0; s < S; ++s) sum += sc[s];
  const float inv = 1.f / sum;
  for (int64_t s = 0; s < S; ++s) sc[s] *= inv;
}

// Any CPU: plain loops, one query row at a time. scores [S].
void attention_group_baseline(const GroupArgs& a, std::vector<float>& scratch) {
  const int64_t S = a.S, hd = a.hd;
  scratch.resize(S);
  float* sc = scratch.data();
  for (int64_t r = 0; r < a.G * a.T; ++r) {
    const float* qr = a.q + r * hd;
    for (int64_t s = 0; s < S; ++s) {
      const float* ks = a.k + s * a.ldk;
      float dot = 0.f;
      for (int64_t d = 0; d < hd; ++d) dot += qr[d] * ks[d];
      sc[s] = dot;
    }
    softmax_row(sc, a.mask_row(r), S, a.scale, a.softcap, [](float* x, int64_t n) {
      for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
    });
    float* zr = a.z_row(r);
    for (int64_t d = 0; d < hd; ++d) zr[d] = 0.f;
    for (int64_t s = 0; s < S; ++s) {
      const float* vs = a.v + s * a.ldv;
      for (int64_t d = 0; d < hd; ++d) zr[d] += sc[s] * vs[d];
    }
  }
}

#if defined(__x86_64__)
// glibc's vector expf (libmvec; ≤ 1 ulp, as its scalar expf).
// The target attribute: clang refuses an __m256 argument to a function declared without AVX.
extern "C" __attribute__((target("avx2"))) __m256 _ZGVdN8v_expf(__m256);

// AVX2 + FMA: register-blocked tiles of R ≤ 4 query rows. Keys are transposed once per group
// into kt [hd, Sp] (Sp = S rounded up to 16, zero-padded) so that a tile's scores are sums of
// broadcast q[r][d] · kt[d][s..s+16); the values are summed the same way, 16 dimensions at a time.
template <int R>
__attribute__((target("avx2,fma"))) void scores_tile(const float* q, int64_t hd, const float* kt, int64_t Sp,
                                                     float* sc) {  // sc [R, Sp]
  for (int64_t s0 = 0; s0 < Sp; s0 += 16) {
    __m256 acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int64_t d = 0; d < hd; ++d) {
      const __m256 k0 = _mm256_loadu_ps(kt + d * Sp + s0), k1 = _mm256_loadu_ps(kt + d * Sp + s0 + 8);
      for (int r = 0; r < R; ++r) {
        const __m256 qd = _mm256_broadcast_ss(q + r * hd + d);
        acc[r][0] = _mm256_fmadd_ps(qd, k0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(qd, k1, acc[r][1]);
      }
    }
    for (int r = 0; r < R; ++r) {
      _mm256_storeu_ps(sc + r * Sp + s0, acc[r][0]);
      _mm256_storeu_ps(sc + r * Sp + s0 + 8, acc[r][1]);
    }
  }
}

template <int R>
__attribute__((target("avx2,fma"))) void values_tile(const float* p, int64_t Sp, int64_t S, const float* v,
                                                     int64_t ldv, int64_t hd, float* const* z) {  // p [R, Sp]
  for (int64_t d0 = 0; d0 < hd; d0 += 16) {
    __m256 acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int64_t s = 0; s < S; ++s) {
      const __m256 v0 = _mm256_loadu_ps(v + s * ldv + d0), v1 = _mm256_loadu_ps(v + s * ldv + d0 + 8);
      for (int r = 0; r < R; ++r) {
        const __m256 ps = _mm256_broadcast_ss(p + r * Sp + s);
        acc[r][0] = _mm256_fmadd_ps(ps, v0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(ps, v1, acc[r][1]);
      }
    }
    for (int r = 0; r < R; ++r) {
      _mm256_storeu_ps(z[r] + d0, acc[r][0]);
      _mm256_storeu_ps(z[r] + d0 + 8, acc[r][1]);
    }
  }
}

// A named function rather than a lambda with a target attribute: clang does not apply the
// attribute to a lambda's call operator (and refuses the __m256 call in it).
__attribute__((target("avx2,fma"))) void exp_in_place_avx2(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _ZGVdN8v_expf(_mm256_loadu_ps(x + i)));
  for (; i < n; ++i) x[i] = std::exp(x[i]);
}

template <int R>
__attribute__((target("avx2,fma"))) void attention_tile(const GroupArgs& a, int64_t r0, const float* kt, int64_t Sp,
                                                        float* sc) {
  scores_tile<R>(a.q + r0 * a.hd, a.hd, kt, Sp, sc);
  float* z[R];
  for (int r = 0; r < R; ++r) {
    softmax_row(sc + r * Sp, a.mask_row(r0 + r), a.S, a.scale, a.softcap,
                [](float* x, int64_t n) { exp_in_place_avx2(x, n); });
    z[r] = a.z_row(r0 + r);
  }
  values_tile<R>(sc, Sp, a.S, a.v, a.ldv, a.hd, z);
}

__attribute__((target("avx2,fma"))) void attention_group_avx2(const GroupArgs& a, std::vector<float>& scratch) {
  const int64_t S = a.S, Sp = (S + 15) / 16 * 16, hd = a.hd, rows = a.G * a.T;
  scratch.assign(hd * Sp + 4 * Sp, 0.f);
  float* kt = scratch.data();  // [hd, Sp]
  float* sc = kt + hd * Sp;    // [4, Sp]
  for (int64_t s = 0; s < S; ++s)
    for (int64_t d = 0; d < hd; ++d) kt[d * Sp + s] = a.k[s * a.ldk + d];
  int64_t r0 = 0;
  for (; r0 + 4 <= rows; r0 += 4) attention_tile<4>(a, r0, kt, Sp, sc);
  for (; r0 < rows; ++r0) attention_tile<1>(a, r0, kt, Sp, sc);
}

bool use_avx2(int64_t hd) { return cpu_features().avx2 && cpu_features().fma && hd % 16 == 0; }
#else
void attention_group_avx2(const GroupArgs& a, std::vector<float>& scratch) { attention_group_baseline(a, scratch); }
bool use_avx2(int64_t) { return false; }
#endif

}  // namespace

bool attention_f32_supported(const at::Tensor& q) { return q.scalar_type() == at::kFloat && q.device().is_cpu(); }

at::Tensor attention_f32(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                         float scale, float softcap) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), hd = q.size(3);
  const int64_t Hkv = k.size(1), S = k.size(2);
  if (!q.is_contiguous() || q.scalar_type() != at::kFloat || k.scalar_type() != at::kFloat ||
      v.scalar_type() != at::kFloat || k.stride(3) != 1 || v.stride(3) != 1 || v.sizes() != k.sizes() ||
      k.size(0) != B || k.size(3) != hd || Hkv == 0 || H % Hkv != 0)
    fail("attention_f32: q must be contiguous float32 [B, H, T, hd], k and v [B, Hkv, S, hd] with unit last stride");
  if (!mask.is_contiguous() || mask.sizes() != at::IntArrayRef({B, T, S}) || mask.scalar_type() != at::kFloat)
    fail("attention_f32: mask must be contiguous float32 [B, T, S]");
  const int64_t G = H / Hkv;  // query heads per kv head; their T rows each are adjacent in q
  at::Tensor z = at::empty({B, T, H, hd}, q.options());
  const bool avx2 = use_avx2(hd);
  at::parallel_for(0, B * Hkv, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / Hkv, kh = i % Hkv;
      GroupArgs a{q.data_ptr<float>() + (b * H + kh * G) * T * hd,
                  k.data_ptr<float>() + b * k.stride(0) + kh * k.stride(1),
                  v.data_ptr<float>() + b * v.stride(0) + kh * v.stride(1),
                  mask.data_ptr<float>() + b * T * S,
                  z.data_ptr<float>() + (b * T * H + kh * G) * hd,
                  G, T, S, hd, H, k.stride(2), v.stride(2), scale, softcap};
      avx2 ? attention_group_avx2(a, scratch) : attention_group_baseline(a, scratch);
    }
  });
  return z;
}

}  // namespace steer
