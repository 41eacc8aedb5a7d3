// Dequantization and quantization of ggml tensor data, bit-exact with ggml's scalar
// reference code (ggml-quants.c: dequantize_row_*, quantize_row_*_ref) and gguf-py 0.19
// (gguf/quants.py), which the tests check against fixtures made by gguf-py.
//
// Types: dequantize F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K,
// Q6_K; quantize F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K (the k-quants
// with ggml's reference algorithm, i.e. what llama-quantize does without an imatrix).
// Any other type, or a length that is not a multiple of the block size, is a steer::Error.
//
// Plain scalar code; whole-tensor helpers split the work over the available cores.
#pragma once
#include <cstdint>
#include <vector>

#include "steer/ggml_types.h"
#include "steer/gguf.h"

namespace steer {

// src holds n / block_size blocks of `type`; dst receives n floats.
void dequantize_row(GGMLType type, const void* src, float* dst, int64_t n);

// src holds n floats; dst receives ggml_nbytes(type, {n}) bytes. Block types (Q4_0 … Q6_K)
// throw steer::Error on a NaN or infinite value (F32/F16/BF16 store them as they are).
void quantize_row(GGMLType type, const float* src, void* dst, int64_t n);

// The whole tensor as floats, in GGUF order (ne[0] fastest). Errors name the tensor and file.
std::vector<float> dequantize_tensor(const GGUFFile& file, const GGUFTensorInfo& info);
// Same into caller memory of info.n_elements() floats.
void dequantize_tensor(const GGUFFile& file, const GGUFTensorInfo& info, float* dst);

// Quantizes a tensor of GGUF dims `ne` (ne[0] must be a multiple of the block size).
std::vector<uint8_t> quantize_tensor(GGMLType type, const float* src, const std::vector<int64_t>& ne);

}  // namespace steer
