// steer::Runner — the one place where prompts become batches for the model: which prompts run
// together (sorted by length, cut into batches), left padding, the prefix that a batch's prompts
// share (a chat template's system prompt and user header, run once as one row and its keys and
// values copied to every row), the KV cache and its positions, and the device the inputs go to.
// Everything that runs a model over many prompts — generation, activation capture, direction
// selection (PromptBatches), losses, judges — is built on it.
//
//   steer::Runner runner(*model, {/*batch_size=*/16});
//   runner.run(prompts, {&hooks, steer::LogitsMode::kLast}, {},
//              [&](const steer::PromptBatch& b, const at::Tensor& logits) { /* rows b.rows */ });
//
// DecodeBatch is the decoding half: a batch of sequences that advance one token per row per
// step, where rows join (their prompts prefilled) and leave between steps — continuous batching,
// as a server needs. Rows carry the caller's ids (BatchState::id), which is what per-row
// interventions select, so sorting and joining never change which row is steered.
//
// Shared prefixes and hooks: the prefix pass stands for every row at once, so it is made only
// while no per-row hook is attached (HookSet::has_per_row_hooks); row-independent hooks see the
// prefix row with the batch's shortest prompt length and earliest instruction end.
//
// Failure: steer::Error for an empty prompt, a prompt longer than the model's context length, a
// batch size < 1, ids that repeat or are unknown.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

#include "steer/model.h"

namespace steer {

// A prompt ready for the model: token ids, and where its post-instruction tail starts
// (for chat prompts: the template text after the user's message; else ids.size()).
struct EncodedPrompt {
  std::vector<int32_t> ids;
  int64_t instruction_end = 0;
};

struct BatchOptions {
  int batch_size = 32;         // rows per forward
  bool sort_by_length = true;  // batch prompts of similar length together: little padding
  bool share_prefix = true;    // run the leading tokens a batch's prompts share once, as one row
};

// A prefix run once, as one row with a KV cache of exactly its length (Runner::run_prefix).
struct PrefixRun {
  std::vector<int32_t> ids;
  BatchState state;
  bool empty() const { return ids.empty(); }
};

// One batch of prompts laid out for the model.
struct PromptBatch {
  std::vector<int64_t> rows;  // index into the caller's prompts of each batch row (= state.row_id)
  BatchState state;           // padding, positions, shared prefix, KV cache when asked for
  at::Tensor tokens;          // [batch, seq] int64: the slots still to run (after a shared prefix)
};

// How Runner::prepare lays a batch out.
struct PrepareArgs {
  int64_t cache_slots = -1;               // ≥ 0: a KV cache with this many slots after the prompts; -1: none
  bool share_prefix = true;               // and BatchOptions::share_prefix: may a prefix be shared
  const HookSet* prefix_hooks = nullptr;  // hooks of the prefix's pass (must not be per-row)
  std::optional<Site> stop_after;         // the prefix pass ends there too (ForwardArgs::stop_after)
  int64_t keep_last = 1;                  // the last this-many tokens of every prompt stay out of the prefix
  int64_t max_prefix = std::numeric_limits<int64_t>::max();  // and the prefix is at most this long
};

class Runner {
 public:
  explicit Runner(const Model& model, BatchOptions options = {});

  const Model& model() const { return model_; }
  const BatchOptions& options() const { return options_; }

  // Which prompts run together: indices into `prompts`, at most batch_size per batch and at most
  // kMaxBatchTokens padded tokens (rows × longest; a longer prompt runs alone), by length
  // (stable) when sort_by_length, else in the order given. The token bound keeps a large
  // --batch-size over many prompts from sizing activations by the whole prompt set.
  static constexpr int64_t kMaxBatchTokens = 1 << 14;
  std::vector<std::vector<int64_t>> plan(const std::vector<EncodedPrompt>& prompts) const;

  // The leading tokens prompts[rows] share that may run once for them (≥ 4 tokens, before every
  // row's instruction start, out of its last keep_last tokens, at most max_prefix long; none when
  // sharing is off), with what the prefix pass tells hooks: the shortest prompt length and the
  // earliest instruction end among the rows.
  struct PrefixPlan {
    std::vector<int32_t> ids;  // empty: nothing to share
    int64_t shortest = 0, first_instruction = 0;
  };
  PrefixPlan plan_prefix(const std::vector<EncodedPrompt>& prompts, const std::vector<int64_t>& rows,
                         int64_t keep_last = 1, int64_t max_prefix = std::numeric_limits<int64_t>::max()) const;

  // Lays prompts[rows] out as one batch (left-padded, state.row_id = rows). When sharing is on
  // and they share a prefix of ≥ 4 tokens (kept before every row's instruction start, out of
  // its last keep_last tokens, at most max_prefix long), that prefix runs here, once, as one row
  // with args.prefix_hooks, and its keys/values are copied into every row.
  PromptBatch prepare(const std::vector<EncodedPrompt>& prompts, const std::vector<int64_t>& rows,
                      const PrepareArgs& args = {}) const;

  // The same after a prefix that ran earlier (e.g. once for many batches, as PromptBatches
  // does): every prompt must continue it. The batch has a cache of cache_slots after the prompts.
  PromptBatch prepare_after(const PrefixRun& prefix, const std::vector<EncodedPrompt>& prompts,
                            const std::vector<int64_t>& rows, int64_t cache_slots = 0) const;

  // Runs `ids` as one row into a cache of exactly their length. Hooks see the row with the
  // given prompt_len and instruction_end (pass the batch's shortest and earliest). With
  // args.first_layer > 0 the input is `resid_pre` [1, ids.size(), d_model] of that block.
  PrefixRun run_prefix(std::vector<int32_t> ids, int64_t prompt_len, int64_t instruction_end,
                       const ForwardArgs& args = {}, const at::Tensor& resid_pre = {}) const;

  // Every prompt once, batch by batch: prepare(prompts, rows, prep); before(batch), e.g. to set up
  // hooks that read the batch's layout; the forward with `forward`; after(batch, its output).
  void run(const std::vector<EncodedPrompt>& prompts, const ForwardArgs& forward, const PrepareArgs& prep,
           const std::function<void(const PromptBatch&, const at::Tensor&)>& after,
           const std::function<void(const PromptBatch&)>& before = nullptr) const;

 private:
  const Model& model_;
  BatchOptions options_;
};

// Sequences decoded together; rows join and leave between steps. The hooks (optional) apply to
// every prefill and step; the HookSet must outlive the batch.
class DecodeBatch {
 public:
  explicit DecodeBatch(const Runner& runner, const HookSet* hooks = nullptr);

  // Prefills `prompts` as new rows with the caller's `ids` (unique among the rows) and returns
  // their last-position logits [n, vocab] float32, in the order given. `reserve`: decode steps to
  // make room for now (the cache grows when a step needs more anyway).
  at::Tensor join(const std::vector<EncodedPrompt>& prompts, const std::vector<int64_t>& ids, int64_t reserve = 0);

  // One decode step: tokens[i] is fed to row i (rows in ids() order). Returns the logits
  // [rows, vocab] float32.
  at::Tensor step(const std::vector<int32_t>& tokens);

  // Removes the rows with these ids (unknown ids are an error).
  void leave(const std::vector<int64_t>& ids);

  const std::vector<int64_t>& ids() const { return state_.row_id; }
  int64_t size() const { return state_.batch; }
  bool empty() const { return state_.batch == 0; }
  const BatchState& state() const { return state_; }

 private:
  void ensure_capacity(int64_t slots);

  const Runner& runner_;
  const HookSet* hooks_;
  BatchState state_;
};

}  // namespace steer
