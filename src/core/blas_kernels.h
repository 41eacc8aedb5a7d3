// OpenBLAS — the BLAS behind Debian's libtorch for float32 matmul — picks its kernels from the
// CPU's model number when it loads. 0.3.21 (Debian 12) does not know recent Xeons (family 6
// model 207, seen on this project's machines) and falls back to its generic SSE3 "Prescott"
// kernels: float32 GEMM on the MLP shapes ran at 32 GFLOP/s instead of 179 with its AVX-512
// "Cooperlake" kernels. fix_blas_kernels() re-selects them from the CPU's feature flags.
#pragma once
#include <string>

namespace steer {

struct BlasKernels {
  std::string library;   // "OpenBLAS", or "" when libtorch was built on another BLAS (pip torch: MKL)
  std::string core;      // OpenBLAS's kernel set in use, e.g. "Cooperlake"
  std::string replaced;  // the generic set OpenBLAS had picked, when fix_blas_kernels() replaced it
  std::string summary() const;  // for logs and run metadata, e.g. "OpenBLAS Cooperlake (not Prescott)"
};

// Once per process, before the first matmul (Model::load and the CLI call it; later calls return
// the first result). Changes nothing when OPENBLAS_CORETYPE is set, when the BLAS is not
// OpenBLAS, or when OpenBLAS's own pick is already an AVX2 or AVX-512 one.
const BlasKernels& fix_blas_kernels();

// The kernel set to ask OpenBLAS for, given the one it picked and the CPU's flags ("" = keep it).
std::string better_openblas_core(const std::string& picked, bool avx2_fma, bool avx512_skx, bool avx512_bf16);

}  // namespace steer
