// Hooks: functions attached at named sites (steer/sites.h) that read or change activations
// during a forward pass. A forward asks `hooks->active(kind, layer)` at each site — one flag
// test — and only then builds a context and calls the hook functions in the order added.
//
// A hook receives the activation by reference and may modify it in place or replace it.
// Padding positions must not be changed: HookContext::mask() never selects them.
#pragma once
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "steer/sites.h"

namespace steer {

struct BatchState;

// Which token positions an intervention or capture touches. Positions count within each
// row's own sequence (padding excluded): 0 is the first prompt token. The one vocabulary for
// positions: interventions (steer/interventions.h) apply at them, a capture (steer/capture.h)
// reads them, and `--positions` takes the same text in every verb (parse).
struct PositionSelector {
  enum class Kind {
    kAll,               // every real token: prompt and generated
    kPrompt,            // the prompt tokens
    kGenerated,         // everything after the prompt
    kAfterInstruction,  // from the start of the post-instruction template tail on (CAA)
    kExplicit,          // the listed indices; negative ones count back from the prompt's end
  };
  Kind kind = Kind::kAll;
  std::vector<int64_t> indices;  // kExplicit only

  static PositionSelector all() { return {Kind::kAll, {}}; }
  static PositionSelector prompt() { return {Kind::kPrompt, {}}; }
  static PositionSelector generated() { return {Kind::kGenerated, {}}; }
  static PositionSelector after_instruction() { return {Kind::kAfterInstruction, {}}; }
  static PositionSelector explicit_indices(std::vector<int64_t> idx) { return {Kind::kExplicit, std::move(idx)}; }
  // "all", "prompt", "generated", "after-instruction", or indices "-5,-4,-1" / a range "-5..-1"
  // (inclusive), each index within ±kMaxPosition (no context is longer; it bounds what a typed
  // range allocates). steer::Error naming the text otherwise.
  static constexpr int64_t kMaxPosition = 1 << 20;
  static PositionSelector parse(const std::string& text);
  std::string to_string() const;  // the form parse() reads

  // The rule, written once (interventions, HookContext::mask and capture all ask it): whether
  // position `pos` (≥ 0) of a row is selected, given the row's prompt length and where its
  // post-instruction tail starts. Explicit indices < 0 count back from the prompt's end.
  bool selects(int64_t pos, int64_t prompt_len, int64_t instruction_end) const;
  // The prompt positions (0 ≤ p < prompt_len) it selects in such a row: ascending, or for
  // kExplicit in the listed order (indices outside the prompt are left out).
  std::vector<int64_t> prompt_positions(int64_t prompt_len, int64_t instruction_end) const;
  bool operator==(const PositionSelector& o) const { return kind == o.kind && indices == o.indices; }
};

// What a hook knows about the forward it runs in.
struct HookContext {
  Site site;
  const BatchState* state;  // rows: padding, prompt lengths, instruction ends
  at::Tensor positions;     // [batch, seq] int64: position of each token in its row; -1 on padding
  bool prefill;             // true for the forward over the prompts, false for decode steps

  // [batch, seq] bool: the real (non-padding) positions the selector names.
  at::Tensor mask(const PositionSelector& sel) const;
};

using HookFn = std::function<void(at::Tensor& x, const HookContext& ctx)>;

class HookSet {
 public:
  using Handle = uint64_t;

  explicit HookSet(int n_layers = 0);

  // steer::Error if the layer is out of range. per_row: the hook treats batch rows differently
  // (by their ids, BatchState::id), so a pass that stands for several rows at once — a shared
  // prefix run once as one row (steer/runner.h) — must not be made while it is attached.
  Handle add(const Site& site, HookFn fn, bool per_row = false);
  void remove(Handle handle);
  void clear();
  bool empty() const { return count_ == 0; }
  bool has_per_row_hooks() const { return per_row_count_ > 0; }
  int n_layers() const { return n_layers_; }

  bool active(SiteKind kind, int layer) const { return flags_[slot(kind, layer)]; }
  void run(SiteKind kind, int layer, at::Tensor& x, const HookContext& ctx) const;

 private:
  size_t slot(SiteKind kind, int layer) const {
    return static_cast<size_t>(kind) * (n_layers_ + 1) + (layer < 0 ? n_layers_ : layer);
  }
  struct Entry {
    Handle handle;
    HookFn fn;
    bool per_row;
  };
  int n_layers_;
  size_t count_ = 0, per_row_count_ = 0;
  Handle next_ = 1;
  std::vector<char> flags_;                 // one per (kind, layer): any hook attached
  std::vector<std::vector<Entry>> entries_; // same indexing
};

// Removes its hook when it goes out of scope: interventions are scoped and reversible.
class ScopedHook {
 public:
  ScopedHook(HookSet& set, const Site& site, HookFn fn, bool per_row = false)
      : set_(&set), handle_(set.add(site, std::move(fn), per_row)) {}
  ~ScopedHook() { if (set_) set_->remove(handle_); }
  ScopedHook(ScopedHook&& o) noexcept : set_(o.set_), handle_(o.handle_) { o.set_ = nullptr; }
  ScopedHook(const ScopedHook&) = delete;
  ScopedHook& operator=(const ScopedHook&) = delete;

 private:
  HookSet* set_;
  HookSet::Handle handle_;
};

}  // namespace steer
