#include "steer/hooks.h"

#include <ATen/ATen.h>

#include <sstream>

#include "steer/error.h"
#include "steer/batch.h"

namespace steer {

PositionSelector PositionSelector::parse(const std::string& text) {
  if (text == "all") return all();
  if (text == "prompt") return prompt();
  if (text == "generated") return generated();
  if (text == "after-instruction" || text == "after_instruction") return after_instruction();
  std::vector<int64_t> idx;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      idx.push_back(std::stoll(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      fail("bad position selector '" + text + "'",
           "use all, prompt, generated, after-instruction, or indices like -5,-4,-1");
    }
  }
  if (idx.empty()) fail("empty position selector", "use all, prompt, generated, after-instruction or indices");
  return explicit_indices(idx);
}

at::Tensor HookContext::mask(const PositionSelector& sel) const {
  const at::Tensor& pos = positions;  // [B, T]
  at::Tensor real = pos >= 0;
  auto per_row = [&](const std::vector<int64_t>& v) { return at::tensor(v, at::kLong).unsqueeze(1); };
  switch (sel.kind) {
    case PositionSelector::Kind::kAll:
      return real;
    case PositionSelector::Kind::kPrompt:
      return real & (pos < per_row(state->prompt_len));
    case PositionSelector::Kind::kGenerated:
      return pos >= per_row(state->prompt_len);
    case PositionSelector::Kind::kAfterInstruction:
      return pos >= per_row(state->instruction_end);
    case PositionSelector::Kind::kExplicit: {
      at::Tensor m = at::zeros_like(real);
      at::Tensor plen = per_row(state->prompt_len);
      for (int64_t i : sel.indices) {
        at::Tensor target = i < 0 ? plen + i : at::full_like(plen, i);
        m = m | ((pos == target) & real);
      }
      return m;
    }
  }
  return real;
}

HookSet::HookSet(int n_layers)
    : n_layers_(n_layers),
      flags_(size_t(kNumSiteKinds) * (n_layers + 1), 0),
      entries_(size_t(kNumSiteKinds) * (n_layers + 1)) {}

HookSet::Handle HookSet::add(const Site& site, HookFn fn, bool per_row) {
  if (site.per_layer() && (site.layer < 0 || site.layer >= n_layers_))
    fail("hook site '" + site_name(site) + "' is out of range: the model has " + std::to_string(n_layers_) +
         " layers");
  size_t s = slot(site.kind, site.per_layer() ? site.layer : -1);
  Handle h = next_++;
  entries_[s].push_back({h, std::move(fn), per_row});
  flags_[s] = 1;
  ++count_;
  per_row_count_ += per_row;
  return h;
}

void HookSet::remove(Handle handle) {
  for (size_t s = 0; s < entries_.size(); ++s) {
    auto& list = entries_[s];
    for (auto it = list.begin(); it != list.end(); ++it) {
      if (it->handle == handle) {
        per_row_count_ -= it->per_row;
        list.erase(it);
        flags_[s] = !list.empty();
        --count_;
        return;
      }
    }
  }
}

void HookSet::clear() {
  for (auto& list : entries_) list.clear();
  std::fill(flags_.begin(), flags_.end(), 0);
  count_ = 0;
  per_row_count_ = 0;
}

void HookSet::run(SiteKind kind, int layer, at::Tensor& x, const HookContext& ctx) const {
  for (const Entry& e : entries_[slot(kind, layer)]) e.fn(x, ctx);
}

}  // namespace steer
