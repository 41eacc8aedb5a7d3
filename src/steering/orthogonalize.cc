// The projection math of weight orthogonalization (include/steer/orthogonalize.h). Pure tensor
// functions: no files, no model. Each works in float64 on chunks and hands back the input's
// dtype, because the coefficient (row · r̂) is a sum of d_model products that float32 would
// round to ~1e-7·‖row‖·√d — harmless alone, but the whole point is that nothing along r̂ is left.
#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "steer/error.h"
#include "steer/orthogonalize.h"

namespace steer {
namespace {

// Rows per float64 chunk: 8192 × 1024 doubles is 64 MB at most for the embeddings we meet.
constexpr int64_t kChunkRows = 8192;

void check_direction_fits(const at::Tensor& w, int64_t dim, const at::Tensor& r_hat, const char* fn) {
  if (w.dim() < 1 || w.dim() > 2)
    fail(std::string(fn) + ": expected a 1-D or 2-D tensor, got " + std::to_string(w.dim()) + "-D");
  if (r_hat.dim() != 1 || w.size(dim) != r_hat.size(0))
    fail(std::string(fn) + ": the tensor's d_model axis has " + std::to_string(w.size(dim)) +
             " elements but the direction has " + std::to_string(r_hat.numel()),
         "the direction must come from this model (same d_model)");
}

}  // namespace

at::Tensor unit_direction(const at::Tensor& r, const std::string& what) {
  if (!r.defined() || r.dim() != 1 || r.numel() == 0)
    fail(what + ": expected one vector [d_model]", "a direction file holds one [d_model] vector per layer");
  at::Tensor d = r.to(at::kDouble).contiguous();
  if (!at::isfinite(d).all().item<bool>()) fail(what + ": the direction has non-finite values");
  double norm = d.norm().item<double>();
  if (!(norm > 0)) fail(what + ": the direction is zero", "abliteration needs a non-zero direction");
  return d / norm;
}

at::Tensor orthogonalize_rows(const at::Tensor& rows, const at::Tensor& r_hat) {
  const int64_t d_axis = rows.dim() - 1;
  check_direction_fits(rows, d_axis, r_hat, "orthogonalize_rows");
  at::Tensor r = r_hat.to(at::kDouble);
  at::Tensor x = rows.dim() == 1 ? rows.unsqueeze(0) : rows;  // [n, d]
  at::Tensor out = at::empty_like(x, at::MemoryFormat::Contiguous);
  for (int64_t i = 0; i < x.size(0); i += kChunkRows) {
    int64_t n = std::min(kChunkRows, x.size(0) - i);
    at::Tensor c = x.narrow(0, i, n).to(at::kDouble);          // [n, d]
    at::Tensor coef = at::matmul(c, r);                         // [n]   row · r̂
    out.narrow(0, i, n).copy_(c - at::outer(coef, r));          // [n, d]
  }
  return rows.dim() == 1 ? out.squeeze(0) : out;
}

at::Tensor orthogonalize_cols(const at::Tensor& cols, const at::Tensor& r_hat) {
  check_direction_fits(cols, 0, r_hat, "orthogonalize_cols");
  if (cols.dim() == 1) return orthogonalize_rows(cols, r_hat);
  // cols [d, n]: the columns are the residual-space vectors; the same as orthogonalizing the rows
  // of colsᵀ, done here without the transpose: r̂ᵀW is [n], W − r̂ ⊗ (r̂ᵀW).
  at::Tensor r = r_hat.to(at::kDouble);
  at::Tensor out = at::empty_like(cols, at::MemoryFormat::Contiguous);
  const int64_t n = cols.size(1);
  const int64_t chunk = std::max<int64_t>(1, kChunkRows * 1024 / std::max<int64_t>(cols.size(0), 1));
  for (int64_t j = 0; j < n; j += chunk) {
    int64_t m = std::min(chunk, n - j);
    at::Tensor c = cols.narrow(1, j, m).to(at::kDouble);        // [d, m]
    at::Tensor coef = at::matmul(r, c);                         // [m]   r̂ᵀ W
    out.narrow(1, j, m).copy_(c - at::outer(r, coef));          // [d, m]
  }
  return out;
}

GGMLType parse_abliterate_type(const std::string& text, const std::string& option) {
  std::string t;
  for (char ch : text) t += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (t == "f32" || t == "fp32" || t == "float32") return GGMLType::F32;
  if (t == "f16" || t == "fp16" || t == "float16") return GGMLType::F16;
  if (t == "bf16" || t == "bfloat16") return GGMLType::BF16;
  fail(option + ": unknown type '" + text + "'", "use f32, f16 or bf16 (or --requantize for the source types)");
}

}  // namespace steer
