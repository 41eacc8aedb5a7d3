#include "steering/selection.h"

#include <ATen/ATen.h>

#include "steer/batch.h"

namespace steer {

RowFilter::RowFilter(const std::optional<std::vector<int64_t>>& rows) {
  if (!rows) return;
  all_ = false;
  for (int64_t r : *rows) {
    if (r < 0) continue;  // checked when the intervention is made; never selects
    if (r >= int64_t(allowed_.size())) allowed_.resize(r + 1, 0);
    allowed_[r] = 1;
  }
}

Selection select_tokens(const PositionSelector& positions, const RowFilter& rows, const HookContext& ctx,
                        const at::Tensor& x) {
  const BatchState& st = *ctx.state;
  const int64_t B = x.size(0), T = x.size(1), start = st.length;
  // Decode steps of an every-position intervention: no padding can be in range, nothing to decide.
  if (rows.all() && positions.kind == PositionSelector::Kind::kAll && !st.padding_in(start, start + T))
    return {Selection::Kind::kAll, {}};
  std::vector<uint8_t> keep(size_t(B * T), 0);
  int64_t count = 0;
  for (int64_t b = 0; b < B; ++b) {
    if (!rows.has(st.id(b))) continue;
    for (int64_t t = 0; t < T; ++t) {
      int64_t pos = st.position(b, start + t);
      if (pos >= 0 && positions.selects(pos, st.prompt_len[b], st.instruction_end[b])) {
        keep[b * T + t] = 1;
        ++count;
      }
    }
  }
  if (count == 0) return {Selection::Kind::kNone, {}};
  if (count == B * T) return {Selection::Kind::kAll, {}};
  // The byte→bool conversion copies, so the mask does not alias `keep`.
  at::Tensor mask = at::from_blob(keep.data(), {B, T, 1}, at::kByte).to(at::kBool).to(x.device());
  return {Selection::Kind::kSome, mask};
}

}  // namespace steer
