// Choosing the next token from logits: greedy, or temperature / top-k / top-p sampling with a
// seeded generator per row (so a row's text does not depend on what else is in its batch).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
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
  TokenSampler(const SamplingOptions& options, int64_t batch);
  // logits [batch, vocab] float32 → one token id per row.
  std::vector<int32_t> next(const at::Tensor& logits);

 private:
  int32_t sample_row(const at::Tensor& row, std::mt19937_64& rng) const;
  SamplingOptions opt_;
  std::vector<std::mt19937_64> rngs_;
};

}  // namespace steer
