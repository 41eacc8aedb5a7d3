#include "core/blas_kernels.h"

#include <dlfcn.h>
#include <strings.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "core/cpu.h"

namespace steer {

namespace {

// OpenBLAS's x86-64 kernel sets with AVX2 + FMA or better; the others are SSE-era fallbacks.
bool is_vector_core(const std::string& name) {
  static const char* kModern[] = {"Haswell", "Zen", "Excavator", "SkylakeX", "Cooperlake", "SapphireRapids"};
  return std::any_of(std::begin(kModern), std::end(kModern),
                     [&](const char* m) { return strcasecmp(name.c_str(), m) == 0; });
}

// Found at run time so that a libtorch on another BLAS (pip torch links MKL) builds and runs as is.
template <typename Fn>
Fn openblas_symbol(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}

BlasKernels select() {
  BlasKernels k;
  auto corename = openblas_symbol<char* (*)()>("openblas_get_corename");
  if (!corename) return k;
  k.library = "OpenBLAS";
  k.core = corename();
  auto quit = openblas_symbol<void (*)()>("gotoblas_dynamic_quit");
  auto init = openblas_symbol<void (*)()>("gotoblas_dynamic_init");
  if (!quit || !init || std::getenv("OPENBLAS_CORETYPE")) return k;  // not DYNAMIC_ARCH, or the user chose
  const CpuFeatures& f = cpu_features();
  std::string want = better_openblas_core(k.core, f.avx2 && f.fma, f.avx512_skx(), f.avx512_bf16);
  if (want.empty()) return k;
  // gotoblas_dynamic_init reads OPENBLAS_CORETYPE, as at load time; it is unset again after, so
  // that child processes make their own choice.
  setenv("OPENBLAS_CORETYPE", want.c_str(), 1);
  quit();
  init();
  unsetenv("OPENBLAS_CORETYPE");
  k.replaced = k.core;
  k.core = corename();
  return k;
}

}  // namespace

std::string better_openblas_core(const std::string& picked, bool avx2_fma, bool avx512_skx, bool avx512_bf16) {
  if (is_vector_core(picked) || !avx2_fma) return "";
  if (avx512_skx) return avx512_bf16 ? "Cooperlake" : "SkylakeX";
  return "Haswell";
}

std::string BlasKernels::summary() const {
  if (library.empty()) return "not OpenBLAS";
  return library + " " + core + (replaced.empty() ? "" : " (not " + replaced + ")");
}

const BlasKernels& fix_blas_kernels() {
  static BlasKernels kernels;
  static std::once_flag once;
  std::call_once(once, [] { kernels = select(); });
  return kernels;
}

}  // namespace steer
