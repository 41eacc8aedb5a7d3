// Fused float32 CPU kernels for the two elementwise steps of every block: RMSNorm and the SwiGLU
// activation. libtorch runs each as a chain of ops, one pass over memory per op (RMSNorm: norm,
// multiply, multiply; SwiGLU: silu, multiply); here each is one pass per row, vectorized for
// AVX2 + FMA. They round as that chain of ops does (each product rounded to float32 in the same
// order; the sum of squares and exp in their own order, to an ulp). Where they do not apply
// (another dtype or device, a CPU without AVX2 + FMA) the `*_supported` test says no and the
// decoder keeps the libtorch ops. Tests: tests/unit/engine/test_elementwise_cpu.cc.
#pragma once
#include <ATen/core/Tensor.h>

namespace steer {

// True when the fused kernels can take x: float32, CPU, AVX2 + FMA.
bool fused_elementwise_supported(const at::Tensor& x);

// RMSNorm over the last dimension: (x · rsqrt(mean(x²) + eps)) · weight, rounded after each product.
// x [..., d] contiguous float32; weight [d] float32 contiguous. Returns a new contiguous tensor.
at::Tensor rms_norm_f32(const at::Tensor& x, const at::Tensor& weight, float eps);

// silu(gate) · up, as HF's act_fn(gate_proj(x)) * up_proj(x). gate_up [..., 2·d_ffn] contiguous,
// gate the first half, up the second (the fused projection's layout). Returns [..., d_ffn].
at::Tensor silu_mul_f32(const at::Tensor& gate_up);

}  // namespace steer
