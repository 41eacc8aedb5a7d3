#include "steer/batch.h"

#include <ATen/ATen.h>

#include "steer/error.h"

namespace steer {

at::Tensor make_batch(const std::vector<std::vector<int32_t>>& prompts, int32_t pad_id, BatchState& state,
                      const std::vector<int64_t>& instruction_starts) {
  if (prompts.empty()) fail("make_batch: no prompts");
  if (!instruction_starts.empty() && instruction_starts.size() != prompts.size())
    fail("make_batch: " + std::to_string(instruction_starts.size()) + " instruction starts for " +
         std::to_string(prompts.size()) + " prompts");
  int64_t max_len = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) fail("make_batch: prompt " + std::to_string(i) + " has no tokens");
    max_len = std::max<int64_t>(max_len, prompts[i].size());
  }
  const int64_t B = prompts.size();
  state = BatchState{};
  state.batch = B;
  at::Tensor tokens = at::full({B, max_len}, pad_id, at::kLong);
  auto acc = tokens.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[b];
    int64_t pad = max_len - int64_t(p.size());
    for (size_t t = 0; t < p.size(); ++t) acc[b][pad + t] = p[t];
    state.pad.push_back(pad);
    state.prompt_len.push_back(p.size());
    state.instruction_end.push_back(instruction_starts.empty() ? int64_t(p.size()) : instruction_starts[b]);
  }
  return tokens;
}

at::Tensor slot_positions(const BatchState& state, int64_t seq, int64_t from) {
  if (from < 0) from = state.length;
  at::Tensor slots = at::arange(from, from + seq, at::kLong).unsqueeze(0);  // [1, seq]
  at::Tensor pad = at::tensor(state.pad, at::kLong).unsqueeze(1);          // [B, 1]
  at::Tensor pos = slots - pad;                                            // [B, seq]
  pos = pos.masked_fill(pos < state.prefix, -1);
  if (state.prefix == 0) return pos;
  return at::where(slots < state.prefix, slots.expand_as(pos), pos);  // the prefix: slot = position
}

int64_t shared_prefix_length(const std::vector<std::vector<int32_t>>& prompts,
                             const std::vector<int64_t>& instruction_starts, int64_t keep_last,
                             int64_t min_useful) {
  if (prompts.empty()) return 0;
  int64_t n = prompts[0].size();
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto& p = prompts[i];
    int64_t common = 0;
    while (common < n && common < int64_t(p.size()) && p[common] == prompts[0][common]) ++common;
    n = std::min<int64_t>(common, int64_t(p.size()) - std::max<int64_t>(1, keep_last));
    if (!instruction_starts.empty()) n = std::min(n, instruction_starts[i]);
  }
  return n >= min_useful ? n : 0;
}

at::Tensor make_batch_after_prefix(const BatchState& prefix_state, const std::vector<int32_t>& prefix_ids,
                                   const std::vector<std::vector<int32_t>>& prompts, int32_t pad_id,
                                   BatchState& state, const std::vector<int64_t>& instruction_starts,
                                   int64_t extra_slots) {
  const int64_t P = prefix_ids.size();
  if (prompts.empty()) fail("make_batch_after_prefix: no prompts");
  if (prefix_state.batch != 1 || !prefix_state.cached() || prefix_state.length != P || prefix_state.k.empty())
    fail("make_batch_after_prefix: the prefix state must be one cached row of " + std::to_string(P) + " tokens");
  if (!instruction_starts.empty() && instruction_starts.size() != prompts.size())
    fail("make_batch_after_prefix: " + std::to_string(instruction_starts.size()) + " instruction starts for " +
         std::to_string(prompts.size()) + " prompts");
  int64_t max_rest = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto& p = prompts[i];
    if (int64_t(p.size()) <= P || !std::equal(prefix_ids.begin(), prefix_ids.end(), p.begin()))
      fail("make_batch_after_prefix: prompt " + std::to_string(i) + " does not continue the shared " +
           std::to_string(P) + "-token prefix");
    max_rest = std::max<int64_t>(max_rest, p.size() - P);
  }
  const int64_t B = prompts.size();
  state = BatchState{};
  state.batch = B;
  state.prefix = P;
  state.length = P;
  at::Tensor tokens = at::full({B, max_rest}, pad_id, at::kLong);  // [B, max_rest]
  auto acc = tokens.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[b];
    int64_t rest = p.size() - P, pad = max_rest - rest;
    for (int64_t t = 0; t < rest; ++t) acc[b][pad + t] = p[P + t];
    state.pad.push_back(pad);
    state.prompt_len.push_back(p.size());
    state.instruction_end.push_back(instruction_starts.empty() ? int64_t(p.size()) : instruction_starts[b]);
  }
  // The cache: [B, n_kv_heads, capacity, head_dim] per layer, the prefix's keys/values in every row.
  state.capacity = P + max_rest + extra_slots;
  for (size_t l = 0; l < prefix_state.k.size(); ++l) {
    for (auto [src, dst] : {std::pair{&prefix_state.k[l], &state.k}, std::pair{&prefix_state.v[l], &state.v}}) {
      std::vector<int64_t> shape = src->sizes().vec();
      shape[0] = B;
      shape[2] = state.capacity;
      at::Tensor cache = at::empty(shape, src->options());
      cache.narrow(2, 0, P).copy_(src->narrow(2, 0, P).expand({B, shape[1], P, shape[3]}));
      dst->push_back(cache);
    }
  }
  return tokens;
}

}  // namespace steer
