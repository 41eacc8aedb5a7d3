// glibc's malloc gives each allocation above its mmap threshold its own mapping and unmaps it on
// free; the threshold adapts upwards, but freed memory at the top of the heap is still trimmed
// back to the kernel. A forward pass allocates and frees the same few-megabyte activations every
// layer, so each one was faulted in page by page again (the kernel's page clearing was ~6 % of a
// float32 capture's profile). keep_freed_memory() fixes the threshold at glibc's maximum (32 MiB)
// and trims only above 1 GiB, so that freed activations are reused: float32 capture +13 % on the
// AVX2 machine, peak RSS +6 % (docs/performance.md).
#pragma once
#include <string>

namespace steer {

// Once per process (Model::load calls it through set_compute_threads). Leaves malloc alone when
// the user set MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ (glibc's own tunables), and off
// glibc. Returns what it did, for run metadata: e.g. "glibc: mmap threshold 32 MiB, trim 1 GiB".
const std::string& keep_freed_memory();

}  // namespace steer
