// OpenBLAS kernel selection (core/blas_kernels.h): OpenBLAS 0.3.21 picks its generic SSE3
// "Prescott" kernels on Xeons it does not know (model 207 here), ~5× slower float32 matmul;
// steer re-selects them from the CPU's flags.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/blas_kernels.h"
#include "core/cpu.h"
#include "steer/model.h"

namespace steer {
namespace {

TEST(BlasKernels, GenericPicksAreReplacedByTheBestTheFlagsAllow) {
  EXPECT_EQ(better_openblas_core("Prescott", true, true, true), "Cooperlake");
  EXPECT_EQ(better_openblas_core("Prescott", true, true, false), "SkylakeX");
  EXPECT_EQ(better_openblas_core("Nehalem", true, false, false), "Haswell");
  EXPECT_EQ(better_openblas_core("Prescott", false, false, false), "");  // no AVX2: nothing better to ask for
  // OpenBLAS's own modern picks stand, whatever the flags (its Zen kernels on AMD, say).
  EXPECT_EQ(better_openblas_core("Zen", true, true, true), "");
  EXPECT_EQ(better_openblas_core("SkylakeX", true, true, true), "");
  EXPECT_EQ(better_openblas_core("Haswell", true, false, false), "");
}

TEST(BlasKernels, AfterSetupOpenBlasRunsVectorKernelsOnThisCpu) {
  set_compute_threads(0);
  const BlasKernels& k = fix_blas_kernels();
  if (k.library.empty()) GTEST_SKIP() << "libtorch here is not on OpenBLAS (" << k.summary() << ")";
  if (std::getenv("OPENBLAS_CORETYPE")) GTEST_SKIP() << "OPENBLAS_CORETYPE is set by the user: their choice stands";
  const CpuFeatures& f = cpu_features();
  EXPECT_EQ(better_openblas_core(k.core, f.avx2 && f.fma, f.avx512_skx(), f.avx512_bf16), "")
      << "OpenBLAS runs " << k.summary() << " on " << cpu_summary();
}

TEST(BlasKernels, Float32MatmulIsRightAfterTheSwitch) {
  set_compute_threads(0);  // switches kernels if needed, before this test's matmul
  at::manual_seed(7);
  at::Tensor a = at::randn({301, 577}), b = at::randn({577, 299});
  at::Tensor want = at::mm(a.to(at::kDouble), b.to(at::kDouble));
  at::Tensor got = at::mm(a, b).to(at::kDouble);
  // float32 accumulation over 577 terms of unit-variance products: error ~ 1e-5 of |entries| ~ 24.
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-3) << fix_blas_kernels().summary();
}

}  // namespace
}  // namespace steer
