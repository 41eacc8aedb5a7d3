// Internals shared by the dequantizers (dequant.cc) and the quantizers (quantize.cc):
// unaligned little-endian 16-bit loads/stores, the k-quant 6-bit scale unpacking, argument
// checks, and a small parallel-for over blocks.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "steer/error.h"
#include "steer/ggml_types.h"

namespace steer::quant {

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline void store_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

// Scale and min j (0..7) of a Q4_K/Q5_K block, 6 bits each packed in 12 bytes
// (ggml's get_scale_min_k4).
inline void scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

// Number of blocks in n values of `type`; steer::Error when n is not a whole number of blocks.
inline int64_t checked_blocks(GGMLType type, int64_t n, const char* verb) {
  const GGMLTypeTraits t = ggml_type_traits(type);
  if (t.block_size == 0) fail(std::string("cannot ") + verb + " unknown ggml type " + ggml_type_name(type));
  if (n < 0 || n % t.block_size != 0) {
    fail(std::string("cannot ") + verb + " " + std::to_string(n) + " values of type " + t.name +
         ": not a multiple of its block size " + std::to_string(t.block_size));
  }
  return n / t.block_size;
}

// Runs f(first_block, last_block) over [0, n_blocks) on up to hardware_concurrency threads,
// each taking at least `min_blocks`. Exceptions from workers are rethrown here.
template <class F>
void parallel_blocks(int64_t n_blocks, int64_t min_blocks, F f) {
  const int64_t hw = std::max<int64_t>(1, std::thread::hardware_concurrency());
  const int64_t n_threads = std::max<int64_t>(1, std::min<int64_t>(hw, n_blocks / std::max<int64_t>(1, min_blocks)));
  if (n_threads <= 1) {
    f(0, n_blocks);
    return;
  }
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(n_threads);
  const int64_t per = (n_blocks + n_threads - 1) / n_threads;
  for (int64_t t = 0; t < n_threads; ++t) {
    const int64_t lo = t * per, hi = std::min(n_blocks, lo + per);
    if (lo >= hi) break;
    threads.emplace_back([&, t, lo, hi] {
      try {
        f(lo, hi);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace steer::quant
