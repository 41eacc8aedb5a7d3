// Compute threads: threads = 0 must mean every CPU the process may use. libtorch's own default
// counts cores through cpuinfo, which on this project's 2-vCPU VMs says 1 — every forward then ran
// on one thread (steer/model.h, set_compute_threads).
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

#include "core/cpu.h"
#include "steer/model.h"
#include "test_paths.h"

namespace steer {
namespace {

TEST(Threads, AvailableCpusIsTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  EXPECT_EQ(available_cpus(), CPU_COUNT(&set));
  EXPECT_GE(available_cpus(), 1);
  EXPECT_LE(available_cpus(), int(std::thread::hardware_concurrency()));
}

TEST(Threads, LoadWithThreadsZeroUsesEveryAvailableCpu) {
  at::set_num_threads(1);  // what libtorch picks by itself on a VM whose vCPUs look like one core
  LoadOptions o;
  o.dtype = DType::kFloat32;
  o.progress = false;
  o.threads = 0;
  auto m = Model::load(test::tiny_model(), o);
  EXPECT_EQ(at::get_num_threads(), available_cpus());
}

TEST(Threads, ExplicitCountIsKept) {
  set_compute_threads(1);
  EXPECT_EQ(at::get_num_threads(), 1);
  set_compute_threads(0);
  EXPECT_EQ(at::get_num_threads(), available_cpus());
}

}  // namespace
}  // namespace steer
