// BatchState: a batch of sequences that move through the model together — left-padded prompts,
// then one token per row per decode step — and the KV cache they share.
//
// Slots vs positions: slot s is a column of the padded batch; row b's token at slot s has
// position s - pad[b] in its own sequence (negative = padding). Left padding makes negative
// prompt indices (−k…−1) name the same template tokens in every row.
//
// Shared prefix: when every row starts with the same `prefix` tokens (a chat template's system
// prompt and user header), they can be run once for one row and their keys/values copied to
// every row (make_batch_after_prefix). Then slots [0, prefix) hold the prefix at positions
// 0…prefix−1 in every row, each row's padding follows it, and the rest of the row is
// right-aligned: slot s ≥ prefix has position s − pad[b], padding where that is < prefix.
// position()/slot() are the one place this rule is written.
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
  int64_t prefix = 0;                    // slots [0, prefix) hold a prefix shared by every row
  // The caller's id of each row (a prompt index, a request id): what per-row interventions
  // select (Steering::for_rows), so that sorting, chunking and rows joining or leaving a decode
  // batch never change which row is steered. Empty: row b has id b.
  std::vector<int64_t> row_id;
  int64_t id(int64_t b) const { return row_id.empty() ? b : row_id[b]; }

  // Position of row b's token at slot s in its own sequence; −1 on padding.
  int64_t position(int64_t b, int64_t s) const {
    if (s < prefix) return s;
    int64_t p = s - pad[b];
    return p < prefix ? -1 : p;
  }
  // Slot of row b's token at position p (p ≥ 0).
  int64_t slot(int64_t b, int64_t p) const { return p < prefix ? p : p + pad[b]; }
  // Whether any slot in [from, to) is padding in some row.
  bool padding_in(int64_t from, int64_t to) const {
    for (int64_t b = 0; b < batch; ++b)
      if (pad[b] > 0 && from < prefix + pad[b] && to > prefix) return true;
    return false;
  }
  // The forward over the prompts (everything after a shared prefix), as opposed to decode steps.
  bool at_prompt() const { return length == prefix; }

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

// [batch, seq] int64 positions of the slots [from, from + seq) (default from = state.length);
// -1 on padding.
at::Tensor slot_positions(const BatchState& state, int64_t seq, int64_t from = -1);

// How many leading tokens every prompt shares and a shared-prefix batch may run once: the
// common prefix of the ids, kept below each prompt's instruction start (so position rules that
// depend on the row never select a prefix token) and leaving at least `keep_last` tokens of
// every prompt after it (the positions a caller reads). 0 when fewer than `min_useful` remain.
int64_t shared_prefix_length(const std::vector<std::vector<int32_t>>& prompts,
                             const std::vector<int64_t>& instruction_starts, int64_t keep_last,
                             int64_t min_useful = 4);

// For a batch whose rows all begin with the `prefix_state.length` tokens that `prefix_state`
// (one row, with a KV cache, e.g. from Model::run_prefix) holds: fills `state` with a cache of
// prefix + longest rest + extra_slots slots, the prefix's keys/values copied into every row, and
// returns the rest of each prompt [batch, max_rest] int64, left-padded after the prefix.
// steer::Error if a prompt does not start with the prefix or has nothing after it.
at::Tensor make_batch_after_prefix(const BatchState& prefix_state, const std::vector<int32_t>& prefix_ids,
                                   const std::vector<std::vector<int32_t>>& prompts, int32_t pad_id,
                                   BatchState& state, const std::vector<int64_t>& instruction_starts,
                                   int64_t extra_slots);

}  // namespace steer
