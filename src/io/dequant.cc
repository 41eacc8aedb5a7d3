// Dequantizers for the ggml block formats.
//
// Each block format below is described by its byte layout (offsets into one block) and
// the formula that turns it into floats. The arithmetic follows ggml's scalar code
// (ggml-quants.c dequantize_row_*) operation by operation (same operands, same order,
// float32 throughout), which is what makes the results bit-exact with ggml and gguf-py; keep
// it that way when editing. Contracting a*b+c into an FMA would change the last bit, so
// contraction is turned off.
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
using quant::load_u16;
using quant::scale_min_k4;

namespace {

constexpr int QK = 32;         // block size of the _0/_1 formats
constexpr int QKK = kQK_K;     // super-block size of the k-quants (256)

// fp16 -> fp32 through a table: the dequantizers read one or two scales per block.
struct HalfTable {
  float v[65536];
  HalfTable() {
    for (uint32_t i = 0; i < 65536; ++i) v[i] = fp16_to_fp32(static_cast<uint16_t>(i));
  }
};
const HalfTable& half_table() {
  static const HalfTable table;
  return table;
}

// ---- dequantizers, one block each ------------------------------------------------------

// Q4_0 (18 B / 32): f16 d | u8 qs[16]. y[j] = (lo(qs[j]) - 8) d, y[j+16] = (hi(qs[j]) - 8) d.
void dq_q4_0(const uint8_t* b, float* y, const float* h) {
  const float d = h[load_u16(b)];
  const uint8_t* qs = b + 2;
  for (int j = 0; j < QK / 2; ++j) {
    const int x0 = (qs[j] & 0x0F) - 8;
    const int x1 = (qs[j] >> 4) - 8;
    y[j] = x0 * d;
    y[j + QK / 2] = x1 * d;
  }
}

// Q4_1 (20 B / 32): f16 d | f16 m | u8 qs[16]. y = q d + m, q in 0..15.
void dq_q4_1(const uint8_t* b, float* y, const float* h) {
  const float d = h[load_u16(b)];
  const float m = h[load_u16(b + 2)];
  const uint8_t* qs = b + 4;
  for (int j = 0; j < QK / 2; ++j) {
    const int x0 = qs[j] & 0x0F;
    const int x1 = qs[j] >> 4;
    y[j] = x0 * d + m;
    y[j + QK / 2] = x1 * d + m;
  }
}

// Q5_0 (22 B / 32): f16 d | u32 qh (5th bits) | u8 qs[16]. y = (q - 16) d, q in 0..31.
void dq_q5_0(const uint8_t* b, float* y, const float* h) {
  const float d = h[load_u16(b)];
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < QK / 2; ++j) {
    const uint8_t xh0 = ((qh >> (j + 0)) << 4) & 0x10;
    const uint8_t xh1 = ((qh >> (j + 12))) & 0x10;
    const int32_t x0 = ((qs[j] & 0x0F) | xh0) - 16;
    const int32_t x1 = ((qs[j] >> 4) | xh1) - 16;
    y[j] = x0 * d;
    y[j + QK / 2] = x1 * d;
  }
}

// Q5_1 (24 B / 32): f16 d | f16 m | u32 qh | u8 qs[16]. y = q d + m.
void dq_q5_1(const uint8_t* b, float* y, const float* h) {
  const float d = h[load_u16(b)];
  const float m = h[load_u16(b + 2)];
  uint32_t qh;
  std::memcpy(&qh, b + 4, 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < QK / 2; ++j) {
    const uint8_t xh0 = ((qh >> (j + 0)) << 4) & 0x10;
    const uint8_t xh1 = ((qh >> (j + 12))) & 0x10;
    const int x0 = (qs[j] & 0x0F) | xh0;
    const int x1 = (qs[j] >> 4) | xh1;
    y[j] = x0 * d + m;
    y[j + QK / 2] = x1 * d + m;
  }
}

// Q8_0 (34 B / 32): f16 d | i8 qs[32]. y = q d.
void dq_q8_0(const uint8_t* b, float* y, const float* h) {
  const float d = h[load_u16(b)];
  const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
  for (int j = 0; j < QK; ++j) y[j] = qs[j] * d;
}

// Q2_K (84 B / 256): u8 scales[16] (lo: scale, hi: min) | u8 qs[64] (2-bit) | f16 d | f16 dmin.
// 16 groups of 16: y = d sc q - dmin m.
void dq_q2_k(const uint8_t* b, float* y, const float* h) {
  const uint8_t* scales = b;
  const uint8_t* q = b + 16;
  const float d = h[load_u16(b + 80)];
  const float min = h[load_u16(b + 82)];
  int is = 0;
  for (int n = 0; n < QKK; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      uint8_t sc = scales[is++];
      float dl = d * (sc & 0xF), ml = min * (sc >> 4);
      for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l] >> shift) & 3)) - ml;
      sc = scales[is++];
      dl = d * (sc & 0xF);
      ml = min * (sc >> 4);
      for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3)) - ml;
      shift += 2;
    }
    q += 32;
  }
}

// The 16 signed 6-bit scales of a Q3_K block, packed in 12 bytes: low nibbles in bytes 0..7,
// the two high bits of scale j in byte 8 + j%4 at bit 2*(j/4); stored with a +32 offset.
inline int q3k_scale(const uint8_t* s, int j) {
  const int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
  const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

// Q3_K (110 B / 256): u8 hmask[32] (3rd bit, inverted) | u8 qs[64] (low 2 bits) | scales[12] | f16 d.
// y = d (sc - 32) (q - (hbit ? 0 : 4)).
void dq_q3_k(const uint8_t* b, float* y, const float* h) {
  const uint8_t* hm = b;
  const uint8_t* q = b + 32;
  const uint8_t* s = b + 96;
  const float d_all = h[load_u16(b + 108)];
  uint8_t m = 1;
  int is = 0;
  for (int n = 0; n < QKK; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      float dl = d_all * q3k_scale(s, is++);
      for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l + 0] >> shift) & 3) - ((hm[l + 0] & m) ? 0 : 4));
      dl = d_all * q3k_scale(s, is++);
      for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
      shift += 2;
      m <<= 1;
    }
    q += 32;
  }
}

// Q4_K (144 B / 256): f16 d | f16 dmin | scales[12] | u8 qs[128]. 8 groups of 32:
// y = d sc q - dmin m.
void dq_q4_k(const uint8_t* b, float* y, const float* h) {
  const float d = h[load_u16(b)];
  const float min = h[load_u16(b + 2)];
  const uint8_t* scales = b + 4;
  const uint8_t* q = b + 16;
  int is = 0;
  uint8_t sc, m;
  for (int j = 0; j < QKK; j += 64) {
    scale_min_k4(is + 0, scales, &sc, &m);
    const float d1 = d * sc, m1 = min * m;
    scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * sc, m2 = min * m;
    for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
    q += 32;
    is += 2;
  }
}

// Q5_K (176 B / 256): f16 d | f16 dmin | scales[12] | u8 qh[32] | u8 qs[128].
void dq_q5_k(const uint8_t* b, float* y, const float* h) {
  const float d = h[load_u16(b)];
  const float min = h[load_u16(b + 2)];
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* ql = b + 48;
  int is = 0;
  uint8_t sc, m;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0; j < QKK; j += 64) {
    scale_min_k4(is + 0, scales, &sc, &m);
    const float d1 = d * sc, m1 = min * m;
    scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * sc, m2 = min * m;
    for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    ql += 32;
    is += 2;
    u1 <<= 2;
    u2 <<= 2;
  }
}

// Q6_K (210 B / 256): u8 ql[128] (low 4 bits) | u8 qh[64] (high 2 bits) | i8 scales[16] | f16 d.
// y = d sc (q - 32).
void dq_q6_k(const uint8_t* b, float* y, const float* h) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = h[load_u16(b + 208)];
  for (int n = 0; n < QKK; n += 128) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l + 0] = d * sc[is + 0] * q1;
      y[l + 32] = d * sc[is + 2] * q2;
      y[l + 64] = d * sc[is + 4] * q3;
      y[l + 96] = d * sc[is + 6] * q4;
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

using BlockDequant = void (*)(const uint8_t*, float*, const float*);

BlockDequant block_dequant(GGMLType type) {
  switch (type) {
    case GGMLType::Q4_0: return dq_q4_0;
    case GGMLType::Q4_1: return dq_q4_1;
    case GGMLType::Q5_0: return dq_q5_0;
    case GGMLType::Q5_1: return dq_q5_1;
    case GGMLType::Q8_0: return dq_q8_0;
    case GGMLType::Q2_K: return dq_q2_k;
    case GGMLType::Q3_K: return dq_q3_k;
    case GGMLType::Q4_K: return dq_q4_k;
    case GGMLType::Q5_K: return dq_q5_k;
    case GGMLType::Q6_K: return dq_q6_k;
    default: return nullptr;
  }
}

}  // namespace

void dequantize_row(GGMLType type, const void* src, float* dst, int64_t n) {
  const int64_t nb = checked_blocks(type, n, "dequantize");
  const uint8_t* s = static_cast<const uint8_t*>(src);
  switch (type) {
    case GGMLType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case GGMLType::F16: {
      const float* h = half_table().v;
      for (int64_t i = 0; i < n; ++i) dst[i] = h[load_u16(s + 2 * i)];
      return;
    }
    case GGMLType::BF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(load_u16(s + 2 * i));
      return;
    default:
      break;
  }
  const BlockDequant f = block_dequant(type);
  if (f == nullptr) {
    fail("cannot dequantize ggml type " + ggml_type_name(type),
         "supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K; "
         "re-quantize the model to one of these");
  }
  const GGMLTypeTraits t = ggml_type_traits(type);
  const float* h = half_table().v;
  for (int64_t i = 0; i < nb; ++i) f(s + i * t.type_size, dst + i * t.block_size, h);
}

void dequantize_tensor(const GGUFFile& file, const GGUFTensorInfo& info, float* dst) {
  const uint8_t* src = file.tensor_data(info);
  const GGMLTypeTraits t = ggml_type_traits(info.type);
  const int64_t n = info.n_elements();
  if (!ggml_type_supported(info.type)) {
    fail("tensor '" + info.name + "' in '" + file.path() + "' has type " + ggml_type_name(info.type) +
             ", which steer cannot dequantize",
         "supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K; "
         "re-quantize the model to one of these");
  }
  // Chunks of whole blocks; ~64K values per thread at least, so small tensors stay serial.
  const int64_t n_blocks = n / t.block_size;
  try {
    quant::parallel_blocks(n_blocks, std::max<int64_t>(1, 65536 / t.block_size), [&](int64_t lo, int64_t hi) {
      dequantize_row(info.type, src + lo * t.type_size, dst + lo * t.block_size, (hi - lo) * t.block_size);
    });
  } catch (const Error& e) {
    fail("tensor '" + info.name + "' in '" + file.path() + "': " + e.what(), e.hint());
  }
}

std::vector<float> dequantize_tensor(const GGUFFile& file, const GGUFTensorInfo& info) {
  std::vector<float> out(static_cast<size_t>(info.n_elements()));
  dequantize_tensor(file, info, out.data());
  return out;
}

}  // namespace steer
