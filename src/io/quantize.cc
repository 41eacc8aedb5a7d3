// Reference quantizers for the ggml block formats: ggml's quantize_row_*_ref (ggml-quants.c),
// i.e. what llama-quantize does without an importance matrix, rewritten operation by
// operation so the bytes are identical (tested against ggml's own output and gguf-py's).
// Contracting a*b+c into an FMA would change results, so contraction is turned off.
#include <cfloat>
#include <cmath>

#include "io/dequant.h"
#include "io/half.h"
#include "io/quant_common.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace steer {

using quant::checked_blocks;
using quant::scale_min_k4;
using quant::store_u16;

namespace {

constexpr int QK = 32;         // block size of the _0/_1 formats
constexpr int QKK = kQK_K;     // super-block size of the k-quants (256)

// Round to nearest, ties to even, for |x| < 2^22 (ggml's nearest_int: add 1.5 * 2^23 and read
// the mantissa).
inline int nearest_int(float fval) {
  const float val = fval + 12582912.f;
  int i;
  std::memcpy(&i, &val, sizeof(int));
  return (i & 0x007fffff) - 0x00400000;
}

constexpr float kGroupMaxEps = 1e-15f;

void q_q4_0(const float* x, uint8_t* b) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < QK; ++j) {
    const float v = x[j];
    if (amax < std::fabs(v)) {
      amax = std::fabs(v);
      max = v;
    }
  }
  const float d = max / -8;
  const float id = d ? 1.0f / d : 0.0f;
  store_u16(b, fp32_to_fp16(d));
  for (int j = 0; j < QK / 2; ++j) {
    const float x0 = x[0 + j] * id;
    const float x1 = x[QK / 2 + j] * id;
    const uint8_t xi0 = std::min<int8_t>(15, (int8_t)(x0 + 8.5f));
    const uint8_t xi1 = std::min<int8_t>(15, (int8_t)(x1 + 8.5f));
    b[2 + j] = xi0 | (xi1 << 4);
  }
}

void q_q4_1(const float* x, uint8_t* b) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < QK; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  const float d = (max - min) / ((1 << 4) - 1);
  const float id = d ? 1.0f / d : 0.0f;
  store_u16(b, fp32_to_fp16(d));
  store_u16(b + 2, fp32_to_fp16(min));
  for (int j = 0; j < QK / 2; ++j) {
    const float x0 = (x[0 + j] - min) * id;
    const float x1 = (x[QK / 2 + j] - min) * id;
    const uint8_t xi0 = std::min<int8_t>(15, (int8_t)(x0 + 0.5f));
    const uint8_t xi1 = std::min<int8_t>(15, (int8_t)(x1 + 0.5f));
    b[4 + j] = xi0 | (xi1 << 4);
  }
}

void q_q5_0(const float* x, uint8_t* b) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < QK; ++j) {
    const float v = x[j];
    if (amax < std::fabs(v)) {
      amax = std::fabs(v);
      max = v;
    }
  }
  const float d = max / -16;
  const float id = d ? 1.0f / d : 0.0f;
  store_u16(b, fp32_to_fp16(d));
  uint32_t qh = 0;
  for (int j = 0; j < QK / 2; ++j) {
    const float x0 = x[0 + j] * id;
    const float x1 = x[QK / 2 + j] * id;
    const uint8_t xi0 = std::min<int8_t>(31, (int8_t)(x0 + 16.5f));
    const uint8_t xi1 = std::min<int8_t>(31, (int8_t)(x1 + 16.5f));
    b[6 + j] = (xi0 & 0x0F) | ((xi1 & 0x0F) << 4);
    qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
    qh |= ((xi1 & 0x10u) >> 4) << (j + QK / 2);
  }
  std::memcpy(b + 2, &qh, 4);
}

void q_q5_1(const float* x, uint8_t* b) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < QK; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  const float d = (max - min) / ((1 << 5) - 1);
  const float id = d ? 1.0f / d : 0.0f;
  store_u16(b, fp32_to_fp16(d));
  store_u16(b + 2, fp32_to_fp16(min));
  uint32_t qh = 0;
  for (int j = 0; j < QK / 2; ++j) {
    const float x0 = (x[0 + j] - min) * id;
    const float x1 = (x[QK / 2 + j] - min) * id;
    const uint8_t xi0 = (uint8_t)(x0 + 0.5f);
    const uint8_t xi1 = (uint8_t)(x1 + 0.5f);
    b[8 + j] = (xi0 & 0x0F) | ((xi1 & 0x0F) << 4);
    qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
    qh |= ((xi1 & 0x10u) >> 4) << (j + QK / 2);
  }
  std::memcpy(b + 4, &qh, 4);
}

void q_q8_0(const float* x, uint8_t* b) {
  float amax = 0.0f;
  for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / ((1 << 7) - 1);
  const float id = d ? 1.0f / d : 0.0f;
  store_u16(b, fp32_to_fp16(d));
  int8_t* qs = reinterpret_cast<int8_t*>(b + 2);
  for (int j = 0; j < QK; ++j) qs[j] = static_cast<int8_t>(std::round(x[j] * id));
}

// ggml's make_qkx2_quants: an asymmetric (scale, min) fit of n values to 0..nmax, trying
// nstep+1 scales around the plain max-min one and keeping the lowest weighted error.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = std::max(0, std::min(nmax, l));
    float diff = scale * L[i] + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    const float w = weights[i];
    best_error += w * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = l;
      const float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * Laux[i] + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        const float w = weights[i];
        cur_error += w * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// ggml's make_qx_quants with rmse_type 1 and no importance weights: a symmetric scale for
// n values to -nmax..nmax-1 (stored +nmax), refined over 18 nearby scales.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = l + nmax;
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * x[i]);
        L[i] = nmax + std::max(-nmax, std::min(nmax - 1, l));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Packs 8 (scale, min) 6-bit pairs the way scale_min_k4 reads them.
void pack_scale_min_k4(uint8_t* scales, int j, uint8_t ls, uint8_t lm) {
  if (j < 4) {
    scales[j] = ls;
    scales[j + 4] = lm;
  } else {
    scales[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
    scales[j - 4] |= ((ls >> 4) << 6);
    scales[j - 0] |= ((lm >> 4) << 6);
  }
}

// Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fit 8 sub-blocks of 32, quantize their
// scales/mins to 6 bits, then re-quantize the values against the stored scales. L gets the
// final levels.
void q_k_scale_min(const float* x, uint8_t* b, int nmax, float rmin, float rdelta, int nstep, uint8_t* L) {
  uint8_t Laux[32];
  float weights[32];
  float mins[QKK / 32];
  float scales[QKK / 32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < QKK / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, rdelta, nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  uint8_t* sm = b + 4;
  std::memset(sm, 0, 12);
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < QKK / 32; ++j) {
    uint8_t ls = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]));
    uint8_t lm = static_cast<uint8_t>(nearest_int(inv_min * mins[j]));
    ls = std::min<uint8_t>(63, ls);
    lm = std::min<uint8_t>(63, lm);
    pack_scale_min_k4(sm, j, ls, lm);
  }
  const uint16_t d16 = fp32_to_fp16(max_scale / 63.f);
  const uint16_t dmin16 = fp32_to_fp16(max_min / 63.f);
  store_u16(b, d16);
  store_u16(b + 2, dmin16);
  uint8_t sc, m;
  for (int j = 0; j < QKK / 32; ++j) {
    scale_min_k4(j, sm, &sc, &m);
    const float d = fp16_to_fp32(d16) * sc;
    if (!d) continue;
    const float dm = fp16_to_fp32(dmin16) * m;
    for (int ii = 0; ii < 32; ++ii) {
      int l = nearest_int((x[32 * j + ii] + dm) / d);
      l = std::max(0, std::min(nmax, l));
      L[32 * j + ii] = l;
    }
  }
}

void q_q4_k(const float* x, uint8_t* b) {
  uint8_t L[QKK];
  q_k_scale_min(x, b, 15, -1.f, 0.1f, 20, L);
  uint8_t* q = b + 16;
  for (int j = 0; j < QKK; j += 64) {
    for (int l = 0; l < 32; ++l) q[l] = L[j + l] | (L[j + l + 32] << 4);
    q += 32;
  }
}

void q_q5_k(const float* x, uint8_t* b) {
  uint8_t L[QKK];
  q_k_scale_min(x, b, 31, -0.5f, 0.1f, 15, L);
  uint8_t* qh = b + 16;
  uint8_t* ql = b + 48;
  std::memset(qh, 0, QKK / 8);
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < QKK; n += 64) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j];
      if (l1 > 15) {
        l1 -= 16;
        qh[j] |= m1;
      }
      int l2 = L[n + j + 32];
      if (l2 > 15) {
        l2 -= 16;
        qh[j] |= m2;
      }
      ql[j] = l1 | (l2 << 4);
    }
    m1 <<= 2;
    m2 <<= 2;
    ql += 32;
  }
}

void q_q6_k(const float* x, uint8_t* b) {
  int8_t L[QKK];
  float scales[QKK / 16];
  float max_scale = 0, max_abs_scale = 0;
  for (int ib = 0; ib < QKK / 16; ++ib) {
    const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
    scales[ib] = scale;
    const float abs_scale = std::fabs(scale);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scale;
    }
  }
  std::memset(b, 0, 210);
  if (max_abs_scale < kGroupMaxEps) {
    store_u16(b + 208, fp32_to_fp16(0.f));
    return;
  }
  int8_t* sc = reinterpret_cast<int8_t*>(b + 192);
  const float iscale = -128.f / max_scale;
  const uint16_t d16 = fp32_to_fp16(1 / iscale);
  store_u16(b + 208, d16);
  for (int ib = 0; ib < QKK / 16; ++ib) sc[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
  for (int j = 0; j < QKK / 16; ++j) {
    const float d = fp16_to_fp32(d16) * sc[j];
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearest_int(x[16 * j + ii] / d);
      l = std::max(-32, std::min(31, l));
      L[16 * j + ii] = static_cast<int8_t>(l + 32);
    }
  }
  uint8_t* ql = b;
  uint8_t* qh = b + 128;
  for (int j = 0; j < QKK; j += 128) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t q1 = L[j + l + 0] & 0xF;
      const uint8_t q2 = L[j + l + 32] & 0xF;
      const uint8_t q3 = L[j + l + 64] & 0xF;
      const uint8_t q4 = L[j + l + 96] & 0xF;
      ql[l + 0] = q1 | (q3 << 4);
      ql[l + 32] = q2 | (q4 << 4);
      qh[l] = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6);
    }
    ql += 64;
    qh += 32;
  }
}

using BlockQuant = void (*)(const float*, uint8_t*);

BlockQuant block_quant(GGMLType type) {
  switch (type) {
    case GGMLType::Q4_0: return q_q4_0;
    case GGMLType::Q4_1: return q_q4_1;
    case GGMLType::Q5_0: return q_q5_0;
    case GGMLType::Q5_1: return q_q5_1;
    case GGMLType::Q8_0: return q_q8_0;
    case GGMLType::Q4_K: return q_q4_k;
    case GGMLType::Q5_K: return q_q5_k;
    case GGMLType::Q6_K: return q_q6_k;
    default: return nullptr;
  }
}

}  // namespace

void quantize_row(GGMLType type, const float* src, void* dst, int64_t n) {
  const int64_t nb = checked_blocks(type, n, "quantize to");
  uint8_t* d = static_cast<uint8_t*>(dst);
  switch (type) {
    case GGMLType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case GGMLType::F16:
      for (int64_t i = 0; i < n; ++i) store_u16(d + 2 * i, fp32_to_fp16(src[i]));
      return;
    case GGMLType::BF16:
      for (int64_t i = 0; i < n; ++i) store_u16(d + 2 * i, fp32_to_bf16(src[i]));
      return;
    default:
      break;
  }
  // A block's scale comes from its largest value; a NaN or infinity would make every quantized
  // value NaN, and converting NaN to an integer is undefined (found by fuzzing).
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(src[i])) {
      fail("cannot quantize to " + ggml_type_name(type) + ": element " + std::to_string(i) + " is " +
               std::to_string(src[i]),
           "the weights hold NaN or infinite values; write them as F32/F16 (--type) or check the input model");
    }
  }
  const BlockQuant f = block_quant(type);
  if (f == nullptr) {
    fail("cannot quantize to ggml type " + ggml_type_name(type),
         "supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K");
  }
  const GGMLTypeTraits t = ggml_type_traits(type);
  for (int64_t i = 0; i < nb; ++i) f(src + i * t.block_size, d + i * t.type_size);
}

std::vector<uint8_t> quantize_tensor(GGMLType type, const float* src, const std::vector<int64_t>& ne) {
  const uint64_t nbytes = ggml_nbytes(type, ne);
  const GGMLTypeTraits t = ggml_type_traits(type);
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  std::vector<uint8_t> out(static_cast<size_t>(nbytes));
  const int64_t n_blocks = n / t.block_size;
  quant::parallel_blocks(n_blocks, std::max<int64_t>(1, 16384 / t.block_size), [&](int64_t lo, int64_t hi) {
    quantize_row(type, src + lo * t.block_size, out.data() + lo * t.type_size, (hi - lo) * t.block_size);
  });
  return out;
}

}  // namespace steer
