// PromptBatches: one fixed list of prompts run many times — under a different intervention
// each time — for their last-position logits, as direction selection does (thousands of
// forwards over the same 64 validation prompts). The work that every run shares is done once:
// the prompts are sorted by length and cut into batches (little padding), and the prefix that
// every prompt shares (the chat template's system prompt and user header) runs once per call,
// as one row, its keys/values serving every batch (Runner::run_prefix).
//
// Hooks must act alike on every row (row-independent interventions); see steer/runner.h.
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "steer/generate.h"

namespace steer {

class PromptBatches {
 public:
  // share_prefix = false runs every batch whole (for checking the shared path).
  PromptBatches(const Model& model, std::vector<EncodedPrompt> prompts, int batch_size, bool share_prefix = true);

  // [n, vocab] float32: each prompt's logits at its last token, in the order given.
  at::Tensor last_logits(const HookSet* hooks = nullptr) const;

  // An unsteered pass that also keeps every layer's hook_resid_pre (n_layers × the tokens run,
  // in the model's dtype), then passes that start at a layer from it: last_logits_from(L, hooks)
  // equals last_logits(hooks) when `hooks` change nothing before hook_resid_pre of L — Arditi's
  // induce score (+r at one layer) for the price of the layers from L on.
  at::Tensor keep_residuals();
  at::Tensor last_logits_from(int layer, const HookSet* hooks) const;

  int64_t size() const { return int64_t(prompts_.size()); }
  int64_t prefix_length() const { return int64_t(prefix_.size()); }
  int64_t tokens_per_call() const;  // tokens run per call (the prefix once, padding included)

 private:
  at::Tensor run(const HookSet* hooks, int from, bool keep) const;

  const Model& model() const { return runner_.model(); }

  Runner runner_;
  std::vector<EncodedPrompt> prompts_;
  std::vector<std::vector<int64_t>> batches_;  // indices into prompts_, by length (Runner::plan)
  std::vector<int32_t> prefix_;                // shared by every prompt; empty = none
  // keep_residuals(): [layer] → hook_resid_pre of the prefix [1, P, d] and of each batch [b, T, d]
  mutable std::vector<at::Tensor> prefix_resid_;               // filled through run()'s hooks
  mutable std::vector<std::vector<at::Tensor>> batch_resid_;  // [batch][layer]
  int64_t shortest_ = 0, first_instruction_ = 0;
};

}  // namespace steer
