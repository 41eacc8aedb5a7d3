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
  auto bad = [&] {
    fail("bad position selector '" + text + "'",
         "use all, prompt, generated, after-instruction, or indices like -5,-4,-1 or -5..-1 (negative count back "
         "from the prompt's end)");
  };
  // A range is expanded index by index, so its ends are bounded before anything is allocated.
  auto bounded = [&](int64_t i) {
    if (i < -kMaxPosition || i > kMaxPosition)
      fail("position " + std::to_string(i) + " in '" + text + "' is beyond any context (at most ±" +
               std::to_string(kMaxPosition) + ")",
           "positions count tokens of one prompt: e.g. -5..-1 for the last five");
    return i;
  };
  std::vector<int64_t> idx;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t dots = item.find("..");
      if (dots != std::string::npos) {  // "-5..-1", inclusive
        size_t u1 = 0, u2 = 0;
        std::string a = item.substr(0, dots), b = item.substr(dots + 2);
        int64_t lo = std::stoll(a, &u1), hi = std::stoll(b, &u2);
        if (u1 != a.size() || u2 != b.size() || hi < lo) bad();
        bounded(lo);
        bounded(hi);
        for (int64_t i = lo; i <= hi; ++i) idx.push_back(i);
      } else {
        size_t used = 0;
        idx.push_back(bounded(std::stoll(item, &used)));
        if (used != item.size()) bad();
      }
    } catch (const Error&) {
      throw;
    } catch (const std::exception&) {
      bad();
    }
  }
  if (idx.empty()) fail("empty position selector", "use all, prompt, generated, after-instruction or indices");
  return explicit_indices(idx);
}

std::string PositionSelector::to_string() const {
  switch (kind) {
    case Kind::kAll: return "all";
    case Kind::kPrompt: return "prompt";
    case Kind::kGenerated: return "generated";
    case Kind::kAfterInstruction: return "after-instruction";
    case Kind::kExplicit: {
      std::ostringstream out;
      for (size_t i = 0; i < indices.size(); ++i) out << (i ? "," : "") << indices[i];
      return out.str();
    }
  }
  return "?";
}

bool PositionSelector::selects(int64_t pos, int64_t prompt_len, int64_t instruction_end) const {
  switch (kind) {
    case Kind::kAll: return true;
    case Kind::kPrompt: return pos < prompt_len;
    case Kind::kGenerated: return pos >= prompt_len;
    case Kind::kAfterInstruction: return pos >= instruction_end;
    case Kind::kExplicit:
      for (int64_t i : indices)
        if (pos == (i < 0 ? prompt_len + i : i)) return true;
      return false;
  }
  return false;
}

std::vector<int64_t> PositionSelector::prompt_positions(int64_t prompt_len, int64_t instruction_end) const {
  std::vector<int64_t> out;
  if (kind == Kind::kExplicit) {
    for (int64_t i : indices) {
      int64_t p = i < 0 ? prompt_len + i : i;
      if (p >= 0 && p < prompt_len && selects(p, prompt_len, instruction_end)) out.push_back(p);
    }
    return out;
  }
  for (int64_t p = 0; p < prompt_len; ++p)
    if (selects(p, prompt_len, instruction_end)) out.push_back(p);
  return out;
}

at::Tensor HookContext::mask(const PositionSelector& sel) const {
  // positions [B, T] int64 (−1 on padding) → the real positions sel.selects, decided on the host.
  at::Tensor pos = positions.to(at::kCPU, at::kLong).contiguous();
  const int64_t B = pos.size(0), T = pos.size(1);
  auto p = pos.accessor<int64_t, 2>();
  at::Tensor m = at::zeros({B, T}, at::kBool);
  auto mm = m.accessor<bool, 2>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      mm[b][t] = p[b][t] >= 0 && sel.selects(p[b][t], state->prompt_len[b], state->instruction_end[b]);
  return m.to(positions.device());
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
