#include "core/heap.h"

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace steer {

const std::string& keep_freed_memory() {
  static const std::string done = [] {
#if defined(__GLIBC__)
    if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_"))
      return std::string("glibc: as set by MALLOC_*_THRESHOLD_");
    // 32 MiB is the largest mmap threshold glibc accepts on 64-bit (HEAP_MAX_SIZE / 2).
    bool ok = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
    return std::string(ok ? "glibc: mmap threshold 32 MiB, trim 1 GiB" : "glibc: defaults (mallopt refused)");
#else
    return std::string("not glibc: defaults");
#endif
  }();
  return done;
}

}  // namespace steer
