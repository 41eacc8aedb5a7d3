#include "models/batch.h"

#include <ATen/ATen.h>

#include "core/error.h"

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

at::Tensor slot_positions(const BatchState& state, int64_t seq) {
  at::Tensor slots = at::arange(state.length, state.length + seq, at::kLong).unsqueeze(0);  // [1, seq]
  at::Tensor pad = at::tensor(state.pad, at::kLong).unsqueeze(1);                          // [B, 1]
  at::Tensor pos = slots - pad;
  return pos.masked_fill(pos < 0, -1);
}

}  // namespace steer
