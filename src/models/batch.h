// BatchState: a batch of sequences that move through the model together — left-padded prompts,
// then one token per row per decode step — and the KV cache they share.
//
// Slots vs positions: slot s is a column of the padded batch; row b's token at slot s has
// position s - pad[b] in its own sequence (negative = padding). Left padding makes negative
// prompt indices (−k…−1) name the same template tokens in every row.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace steer {

struct BatchState {
  int64_t batch = 0;
  std::vector<int64_t> pad;              // leading padding slots per row
  std::vector<int64_t> prompt_len;       // real prompt tokens per row
  std::vector<int64_t> instruction_end;  // per row: position where the post-instruction tail starts
  int64_t length = 0;                    // slots processed so far (padding included)

  // KV cache, one pair per layer: [batch, n_kv_heads, capacity, head_dim]. Empty when the
  // batch runs without a cache (a single full forward, e.g. activation capture).
  int64_t capacity = 0;
  std::vector<at::Tensor> k, v;
  bool cached() const { return capacity > 0; }
};

// Left-pads the prompts into tokens [batch, max_len] (int64) and fills `state` (no cache).
// instruction_starts (optional, per row) marks where each prompt's post-instruction tail begins.
at::Tensor make_batch(const std::vector<std::vector<int32_t>>& prompts, int32_t pad_id, BatchState& state,
                      const std::vector<int64_t>& instruction_starts = {});

// [batch, seq] int64 positions of the slots [state.length, state.length + seq); -1 on padding.
at::Tensor slot_positions(const BatchState& state, int64_t seq);

}  // namespace steer
