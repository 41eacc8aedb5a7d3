// What the CPU can do, read once from /proc/cpuinfo: decides the default compute dtype
// (bf16 only where the CPU multiplies bf16 natively — AVX512-BF16 or AMX; emulated bf16 is slow).
#pragma once
#include <string>

namespace steer {

struct CpuFeatures {
  bool avx2 = false, fma = false, avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_bf16 = false, amx_bf16 = false;
  bool native_bf16() const { return avx512_bf16 || amx_bf16; }
  bool avx512_skx() const { return avx512f && avx512bw && avx512vl && avx512dq; }  // Skylake-X's set
};

const CpuFeatures& cpu_features();
std::string cpu_summary();  // e.g. "AMD EPYC (2 threads, avx512_bf16)"

// CPUs this process may run on (its affinity mask; hardware_concurrency when that cannot be read):
// the thread count steer::set_compute_threads (steer/model.h) uses for threads = 0, and why.
int available_cpus();

}  // namespace steer
