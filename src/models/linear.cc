#include "models/linear.h"

#include <ATen/ATen.h>
#include <dlfcn.h>

namespace steer {

namespace {

// oneDNN's C API (dnnl.h): row-major C = alpha·op(A)·op(B) + beta·C, threads from OpenMP.
using SgemmFn = int (*)(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                        int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Looked up at run time: Debian's libtorch links libdnnl.so.2; pip torch keeps its oneDNN
// private, and there this is null and at::linear does the work.
SgemmFn dnnl_sgemm() {
  static const SgemmFn fn = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "dnnl_sgemm"));
  return fn;
}

}  // namespace

const char* float32_linear_backend() { return dnnl_sgemm() ? "oneDNN sgemm" : "libtorch (BLAS)"; }

at::Tensor apply_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  SgemmFn sgemm = dnnl_sgemm();
  if (!sgemm || x.scalar_type() != at::kFloat || !x.device().is_cpu() || weight.scalar_type() != at::kFloat ||
      !weight.is_contiguous() || (bias.defined() && bias.scalar_type() != at::kFloat))
    return at::linear(x, weight, bias);
  const int64_t K = weight.size(1), N = weight.size(0);
  at::Tensor a = x.reshape({-1, K}).contiguous();  // [M, K]
  const int64_t M = a.size(0);
  std::vector<int64_t> out_shape(x.sizes().begin(), x.sizes().end());
  out_shape.back() = N;
  if (M == 0) return at::empty(out_shape, x.options());
  at::Tensor y = at::empty({M, N}, x.options());
  if (bias.defined()) y.copy_(bias.expand({M, N}));  // a fresh tensor: sgemm adds into it (beta 1)
  int status = sgemm('N', 'T', M, N, K, 1.f, a.data_ptr<float>(), K, weight.data_ptr<float>(), K,
                     bias.defined() ? 1.f : 0.f, y.data_ptr<float>(), N);
  if (status != 0) return at::linear(x, weight, bias);  // dnnl_success is 0; anything else: the safe path
  return y.view(out_shape);
}

}  // namespace steer
