// Which tokens of one forward an intervention touches, decided on the host from BatchState
// (padding, prompt lengths, instruction ends) so that the common cases cost no tensor work:
// nothing selected (the hook returns), every token selected (no mask), or a mix (a mask).
//
// Position of row b's token at slot s is BatchState::position (s − pad[b], negative = padding,
// and the shared-prefix rule), the same rule as slot_positions() and HookContext::mask(); a unit
// test holds the two to each other.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "steer/hooks.h"

namespace steer {

// The batch rows an intervention applies to: unset = every row.
class RowFilter {
 public:
  RowFilter() = default;
  explicit RowFilter(const std::optional<std::vector<int64_t>>& rows);
  bool all() const { return all_; }
  bool has(int64_t row) const { return all_ || (row >= 0 && row < int64_t(allowed_.size()) && allowed_[row]); }

 private:
  bool all_ = true;
  std::vector<char> allowed_;  // by row index
};

struct Selection {
  enum class Kind { kNone, kAll, kSome };
  Kind kind = Kind::kNone;
  at::Tensor mask;  // kSome: [batch, seq, 1] bool on the activation's device
};

// The tokens of x [batch, seq, ...] at `ctx` that `positions` and `rows` select.
Selection select_tokens(const PositionSelector& positions, const RowFilter& rows, const HookContext& ctx,
                        const at::Tensor& x);

}  // namespace steer
