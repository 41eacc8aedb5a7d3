#include "generate/prompt_batches.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "steer/error.h"

namespace steer {

PromptBatches::PromptBatches(const Model& model, std::vector<EncodedPrompt> prompts, int batch_size,
                             bool share_prefix)
    : model_(model), prompts_(std::move(prompts)) {
  if (prompts_.empty()) fail("prompt batches: no prompts");
  if (batch_size < 1) fail("prompt batches: batch size must be ≥ 1, got " + std::to_string(batch_size));
  std::vector<int64_t> order(prompts_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return prompts_[a].ids.size() < prompts_[b].ids.size(); });
  for (size_t i = 0; i < order.size(); i += batch_size)
    batches_.emplace_back(order.begin() + i, order.begin() + std::min(order.size(), i + size_t(batch_size)));

  std::vector<std::vector<int32_t>> ids;
  std::vector<int64_t> starts;
  for (const auto& p : prompts_) {
    ids.push_back(p.ids);
    starts.push_back(p.instruction_end);
  }
  shortest_ = ids[order[0]].size();
  first_instruction_ = *std::min_element(starts.begin(), starts.end());
  int64_t n = share_prefix ? shared_prefix_length(ids, starts, 1) : 0;
  prefix_.assign(ids[0].begin(), ids[0].begin() + n);
}

int64_t PromptBatches::tokens_per_call() const {
  int64_t total = prefix_.size();
  for (const auto& batch : batches_) {
    int64_t longest = 0;
    for (int64_t i : batch) longest = std::max<int64_t>(longest, prompts_[i].ids.size());
    total += int64_t(batch.size()) * (longest - int64_t(prefix_.size()));
  }
  return total;
}

// One pass over every batch. `from` ≥ 0 starts each forward at that layer from the kept
// residuals; `keep` (first_layer 0, no hooks) stores them.
at::Tensor PromptBatches::run(const HookSet* hooks, int from, bool keep) const {
  const int n_layers = model_.config().n_layers;
  HookSet keeping(n_layers);
  std::vector<at::Tensor>* sink = nullptr;  // where the running pass's residuals go
  if (keep)
    for (int l = 0; l < n_layers; ++l)
      keeping.add({SiteKind::kResidPre, l}, [&sink, l](at::Tensor& x, const HookContext&) { (*sink)[l] = x; });
  const HookSet* h = keep ? &keeping : hooks;

  BatchState head;
  if (!prefix_.empty()) {
    sink = &prefix_resid_;
    head = model_.run_prefix(prefix_, h, shortest_, first_instruction_, std::nullopt, from,
                             from > 0 ? prefix_resid_[from] : at::Tensor());
  }
  at::Tensor out;
  for (size_t bi = 0; bi < batches_.size(); ++bi) {
    const auto& batch = batches_[bi];
    std::vector<std::vector<int32_t>> ids;
    std::vector<int64_t> starts;
    for (int64_t i : batch) {
      ids.push_back(prompts_[i].ids);
      starts.push_back(prompts_[i].instruction_end);
    }
    BatchState state;
    at::Tensor tokens = prefix_.empty() ? make_batch(ids, model_.pad_id(), state, starts)
                                        : make_batch_after_prefix(head, prefix_, ids, model_.pad_id(), state, starts, 0);
    sink = keep ? &batch_resid_[bi] : nullptr;
    at::Tensor logits = from > 0 ? model_.forward_from(from, batch_resid_[bi][from], state, h, LogitsMode::kLast)
                                 : model_.forward(tokens, state, h, LogitsMode::kLast);  // [b, vocab]
    if (!out.defined()) out = at::empty({size(), logits.size(1)}, logits.options());
    out.index_copy_(0, at::tensor(batch, at::kLong), logits);
  }
  return out;
}

at::Tensor PromptBatches::last_logits(const HookSet* hooks) const { return run(hooks, 0, false); }

at::Tensor PromptBatches::keep_residuals() {
  const int n_layers = model_.config().n_layers;
  prefix_resid_.assign(prefix_.empty() ? 0 : n_layers, at::Tensor());
  batch_resid_.assign(batches_.size(), std::vector<at::Tensor>(n_layers));
  return run(nullptr, 0, true);
}

at::Tensor PromptBatches::last_logits_from(int layer, const HookSet* hooks) const {
  if (batch_resid_.empty()) fail("prompt batches: last_logits_from needs keep_residuals() first");
  if (layer < 0 || layer >= model_.config().n_layers)
    fail("prompt batches: layer " + std::to_string(layer) + " is outside the model");
  return run(hooks, layer, false);
}

}  // namespace steer
