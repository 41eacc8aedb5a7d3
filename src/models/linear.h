// y = x·Wᵀ + b for the decoder's weight matrices (W [out, in], HF layout).
//
// float32 on the CPU goes to oneDNN's sgemm where libtorch carries oneDNN (Debian's does) rather
// than to OpenBLAS: OpenBLAS runs its own thread pool, and on this project's 2-vCPU machines its
// threads and libtorch's OpenMP threads — which spin for a while after every parallel op — fight
// for the two cores (a float32 forward ran ~1.6× slower). oneDNN shares libtorch's OpenMP pool.
// Everything else (bf16, CUDA, a libtorch without oneDNN) is at::linear.
#pragma once
#include <ATen/core/Tensor.h>

namespace steer {

at::Tensor apply_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias = {});

// What float32 linear layers run on here: "oneDNN sgemm" or "libtorch (BLAS)".
const char* float32_linear_backend();

}  // namespace steer
