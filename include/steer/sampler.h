// Choosing the next token from logits: greedy, or temperature / top-k / top-p sampling with a
// seeded generator per sequence id (so a sequence's text depends neither on what else is in its
// batch nor on which batch row it runs in).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

namespace steer {

struct SamplingOptions {
  float temperature = 0.f;  // 0: greedy (argmax)
  int top_k = 0;            // 0: off
  float top_p = 1.f;        // 1: off
  uint64_t seed = 0;
  bool greedy() const { return temperature <= 0.f; }
};

class TokenSampler {
 public:
  // steer::Error naming the option for a negative or non-finite temperature, top-p outside (0, 1],
  // a negative top-k.
  explicit TokenSampler(const SamplingOptions& options);
  // logits [batch, vocab] float32 → one token id per row; ids[b] names row b's sequence (its
  // generator is seeded from options.seed and the id).
  std::vector<int32_t> next(const at::Tensor& logits, const std::vector<int64_t>& ids);

 private:
  int32_t sample_row(const at::Tensor& row, std::mt19937_64& rng) const;
  SamplingOptions opt_;
  std::map<int64_t, std::mt19937_64> rngs_;  // by sequence id
};

}  // namespace steer
