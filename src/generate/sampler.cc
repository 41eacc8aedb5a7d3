#include "steer/sampler.h"

#include <ATen/ATen.h>

#include <cmath>

#include "steer/error.h"

namespace steer {

TokenSampler::TokenSampler(const SamplingOptions& options) : opt_(options) {
  if (!(options.temperature >= 0) || !std::isfinite(options.temperature))
    fail("temperature must be a finite number ≥ 0, got " + std::to_string(options.temperature));
  if (!(options.top_p > 0 && options.top_p <= 1)) fail("top-p must be in (0, 1], got " + std::to_string(options.top_p));
  if (options.top_k < 0) fail("top-k must be ≥ 0, got " + std::to_string(options.top_k));
}

std::vector<int32_t> TokenSampler::next(const at::Tensor& logits, const std::vector<int64_t>& ids) {
  if (int64_t(ids.size()) != logits.size(0))
    fail("sampler: " + std::to_string(ids.size()) + " sequence ids for " + std::to_string(logits.size(0)) + " rows");
  std::vector<int32_t> out(logits.size(0));
  if (opt_.greedy()) {
    at::Tensor best = logits.argmax(-1).to(at::kLong).cpu().contiguous();
    const int64_t* p = best.data_ptr<int64_t>();
    for (int64_t b = 0; b < logits.size(0); ++b) out[b] = int32_t(p[b]);
    return out;
  }
  for (int64_t b = 0; b < logits.size(0); ++b) {
    auto it = rngs_.find(ids[b]);
    if (it == rngs_.end()) it = rngs_.emplace(ids[b], std::mt19937_64(opt_.seed * 1000003ULL + uint64_t(ids[b]))).first;
    out[b] = sample_row(logits[b], it->second);
  }
  return out;
}

int32_t TokenSampler::sample_row(const at::Tensor& row, std::mt19937_64& rng) const {
  at::Tensor scaled = row.to(at::kFloat) / opt_.temperature;
  int64_t k = opt_.top_k > 0 ? std::min<int64_t>(opt_.top_k, scaled.size(0)) : scaled.size(0);
  auto [values, indices] = at::topk(scaled, k);  // sorted descending
  at::Tensor probs = at::softmax(values, 0).contiguous();
  const float* p = probs.data_ptr<float>();
  // Keep the smallest prefix whose mass reaches top_p (always at least one token).
  int64_t keep = k;
  if (opt_.top_p < 1.f) {
    double mass = 0;
    for (int64_t i = 0; i < k; ++i) {
      mass += p[i];
      if (mass >= opt_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double total = 0;
  for (int64_t i = 0; i < keep; ++i) total += p[i];
  double u = std::uniform_real_distribution<double>(0.0, total)(rng);
  int64_t pick = keep - 1;
  for (int64_t i = 0; i < keep; ++i) {
    u -= p[i];
    if (u <= 0) {
      pick = i;
      break;
    }
  }
  return int32_t(indices[pick].item<int64_t>());
}

}  // namespace steer
