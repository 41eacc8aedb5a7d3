#include "generate/prompt_batches.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "steer/error.h"

namespace steer {

PromptBatches::PromptBatches(const Model& model, std::vector<EncodedPrompt> prompts, int batch_size,
                             bool share_prefix)
    : runner_(model, {batch_size, /*sort_by_length=*/true, share_prefix}), prompts_(std::move(prompts)) {
  if (prompts_.empty()) fail("prompt batches: no prompts");
  batches_ = runner_.plan(prompts_);
  std::vector<int64_t> all(prompts_.size());
  std::iota(all.begin(), all.end(), 0);
  Runner::PrefixPlan plan = runner_.plan_prefix(prompts_, all);
  prefix_ = std::move(plan.ids);
  shortest_ = plan.shortest;
  first_instruction_ = plan.first_instruction;
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
  const int n_layers = model().config().n_layers;
  HookSet keeping(n_layers);
  std::vector<at::Tensor>* sink = nullptr;  // where the running pass's residuals go
  if (keep)
    for (int l = 0; l < n_layers; ++l)
      keeping.add({SiteKind::kResidPre, l}, [&sink, l](at::Tensor& x, const HookContext&) { (*sink)[l] = x; });
  const HookSet* h = keep ? &keeping : hooks;

  PrefixRun head;
  if (!prefix_.empty()) {
    sink = &prefix_resid_;
    ForwardArgs fa;
    fa.hooks = h;
    fa.first_layer = from;
    head = runner_.run_prefix(prefix_, shortest_, first_instruction_, fa, from > 0 ? prefix_resid_[from] : at::Tensor());
  }
  at::Tensor out;
  for (size_t bi = 0; bi < batches_.size(); ++bi) {
    PromptBatch batch = prefix_.empty() ? runner_.prepare(prompts_, batches_[bi], {/*cache_slots=*/-1, /*share_prefix=*/false})
                                        : runner_.prepare_after(head, prompts_, batches_[bi]);
    sink = keep ? &batch_resid_[bi] : nullptr;
    ForwardArgs fa;
    fa.hooks = h;
    fa.first_layer = from;
    at::Tensor logits = model().forward(from > 0 ? batch_resid_[bi][from] : batch.tokens, batch.state, fa);  // [b, vocab]
    if (!out.defined()) out = at::empty({size(), logits.size(1)}, logits.options());
    out.index_copy_(0, at::tensor(batch.rows, at::kLong).to(logits.device()), logits);
  }
  return out;
}

at::Tensor PromptBatches::last_logits(const HookSet* hooks) const { return run(hooks, 0, false); }

at::Tensor PromptBatches::keep_residuals() {
  const int n_layers = model().config().n_layers;
  prefix_resid_.assign(prefix_.empty() ? 0 : n_layers, at::Tensor());
  batch_resid_.assign(batches_.size(), std::vector<at::Tensor>(n_layers));
  return run(nullptr, 0, true);
}

at::Tensor PromptBatches::last_logits_from(int layer, const HookSet* hooks) const {
  if (batch_resid_.empty()) fail("prompt batches: last_logits_from needs keep_residuals() first");
  if (layer < 0 || layer >= model().config().n_layers)
    fail("prompt batches: layer " + std::to_string(layer) + " is outside the model");
  return run(hooks, layer, false);
}

}  // namespace steer
