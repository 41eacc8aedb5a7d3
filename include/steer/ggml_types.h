// The ggml tensor types that GGUF files name, with llama.cpp's numbering (ggml.h `enum
// ggml_type`, gguf-py `GGMLQuantizationType`) and block geometry: a tensor row of n elements
// of a type with block size B and type size S takes n / B * S bytes. Types llama.cpp has
// removed (4, 5, 31..33, 36..38) are listed so a file that names them gets a clear error.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace steer {

enum class GGMLType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  // 4, 5: Q4_2, Q4_3 (removed from ggml in 2023)
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  // 31..33: Q4_0_4_4, Q4_0_4_8, Q4_0_8_8 (removed; repacked at load time now)
  TQ1_0 = 34,
  TQ2_0 = 35,
  // 36..38: IQ4_NL_4_4, IQ4_NL_4_8, IQ4_NL_8_8 (removed)
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
};

// Super-block size of the k-quants (ggml's QK_K).
constexpr int64_t kQK_K = 256;

struct GGMLTypeTraits {
  const char* name;     // "Q4_K"; "Q4_2 (removed)" for retired ids
  int64_t block_size;   // elements per block; 0 for unknown/removed ids
  int64_t type_size;    // bytes per block; 0 for unknown/removed ids
};

// Traits for any 32-bit id: unknown ids give {"unknown", 0, 0}.
GGMLTypeTraits ggml_type_traits(GGMLType type);
std::string ggml_type_name(GGMLType type);  // "Q4_K", or "type 99 (unknown)"

// True when the id names a type whose block geometry we know (so sizes can be computed).
bool ggml_type_known(GGMLType type);

// True when dequantize_row() handles the type: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
bool ggml_type_supported(GGMLType type);

// True when quantize_row() can produce the type: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0, Q4_K, Q5_K, Q6_K.
bool ggml_type_quantizable(GGMLType type);

// Parses "Q4_K" / "q4_k" / "f16"; throws steer::Error listing the known names otherwise.
GGMLType ggml_type_from_name(const std::string& name);

// Bytes of a tensor with GGUF dims `ne` (ne[0] is the contiguous dimension). Throws
// steer::Error when ne[0] is not a multiple of the block size, a dim is negative, the type
// is unknown, or the size overflows.
uint64_t ggml_nbytes(GGMLType type, const std::vector<int64_t>& ne);

}  // namespace steer
