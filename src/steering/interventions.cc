// Interventions: validation, the float32 projection math, and the hooks they attach. The
// contract is in include/steer/interventions.h; token selection is in steering/selection.cc.
#include "steer/interventions.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "steer/error.h"
#include "models/linear.h"
#include "steer/directions.h"
#include "steer/model.h"
#include "steering/selection.h"

namespace steer {
namespace {

using Kind = Intervention::Kind;

bool is_stream_site(SiteKind k) {  // the per-layer sites whose activation is [batch, pos, d_model]
  return k == SiteKind::kResidPre || k == SiteKind::kAttnOut || k == SiteKind::kResidMid ||
         k == SiteKind::kMlpOut || k == SiteKind::kResidPost;
}

// "8-12", "3,5", "0-2,7".
std::string format_layers(std::vector<int> layers) {
  std::sort(layers.begin(), layers.end());
  std::ostringstream out;
  for (size_t i = 0; i < layers.size();) {
    size_t j = i;
    while (j + 1 < layers.size() && layers[j + 1] == layers[j] + 1) ++j;
    if (i) out << ",";
    out << layers[i];
    if (j > i) out << "-" << layers[j];
    i = j + 1;
  }
  return out.str();
}

std::string format_number(float v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// A float32, contiguous, finite [d_model] copy of v; non-zero unless allow_zero (adding a zero
// vector is harmless — an extracted set often has one at layer 0 — but a zero direction has no r̂).
at::Tensor checked_vector(const at::Tensor& v, const std::string& what, bool allow_zero = false) {
  if (!v.defined() || v.dim() != 1 || v.numel() == 0)
    fail(what + ": a direction must be a 1-D [d_model] tensor, got " +
         (v.defined() ? std::to_string(v.dim()) + "-d" : std::string("an undefined tensor")));
  at::Tensor f = v.detach().to(at::kCPU, at::kFloat).contiguous().clone();
  if (!at::isfinite(f).all().item<bool>()) fail(what + ": the direction has NaN or infinite entries");
  if (!allow_zero && f.abs().max().item<float>() == 0.f) fail(what + ": the direction is zero", "nothing to steer along");
  return f;
}

void check_layers(const std::vector<int>& layers, const std::string& what) {
  std::set<int> seen;
  for (int l : layers) {
    if (l < 0) fail(what + ": layer " + std::to_string(l) + " is negative", "layers count from 0");
    if (!seen.insert(l).second) fail(what + ": layer " + std::to_string(l) + " is listed twice");
  }
}

void check_positions(const PositionSelector& p, const std::string& what) {
  if (p.kind == PositionSelector::Kind::kExplicit && p.indices.empty())
    fail(what + ": explicit positions with no index", "give indices like -3,-2,-1");
}

void check_rows(const std::optional<std::vector<int64_t>>& rows, const std::string& what) {
  if (!rows) return;
  for (int64_t r : *rows)
    if (r < 0) fail(what + ": batch row " + std::to_string(r) + " is negative");
}

std::string label_or(const std::string& label, const std::string& fallback) {
  return label.empty() ? fallback : label;
}

// The rows both restrictions allow (unset = every row).
std::optional<std::vector<int64_t>> intersect(const std::optional<std::vector<int64_t>>& a,
                                              const std::optional<std::vector<int64_t>>& b) {
  if (!a) return b;
  if (!b) return a;
  std::set<int64_t> sb(b->begin(), b->end());
  std::vector<int64_t> out;
  for (int64_t r : *a)
    if (sb.count(r)) out.push_back(r);
  return out;
}

// --- the hooks -----------------------------------------------------------------------------

// x ← x + cv on the selected tokens. cv [d_model] is c·v already in the model's dtype.
HookFn add_hook(at::Tensor cv, PositionSelector positions, RowFilter rows) {
  return [cv = std::move(cv), positions = std::move(positions), rows = std::move(rows)](at::Tensor& x,
                                                                                      const HookContext& ctx) {
    Selection s = select_tokens(positions, rows, ctx, x);
    if (s.kind == Selection::Kind::kNone) return;
    at::Tensor y = x + cv;  // [B, T, d_model]
    x = s.kind == Selection::Kind::kAll ? y : at::where(s.mask, y, x);
  };
}

// x ← x − Q(Qᵀx − target) on the selected tokens, in float32: Ablate has target 0 (q [k, d]
// orthonormal rows), Clamp has k = 1 and target = value. qt is q transposed [d, k], kept
// contiguous so each product is one plain matmul.
HookFn projection_hook(at::Tensor q, at::Tensor qt, std::optional<float> target, PositionSelector positions,
                       RowFilter rows) {
  return [q = std::move(q), qt = std::move(qt), target, positions = std::move(positions),
          rows = std::move(rows)](at::Tensor& x, const HookContext& ctx) {
    Selection s = select_tokens(positions, rows, ctx, x);
    if (s.kind == Selection::Kind::kNone) return;
    const int64_t d = x.size(-1);
    at::Tensor xf = x.reshape({-1, d}).to(at::kFloat);  // [N, d] (aliases x when already float32)
    // The products go through apply_linear (oneDNN, not OpenBLAS's competing thread pool: see
    // models/linear.h); q [k, d] and qt [d, k] are its weight layout [out, in]. One direction,
    // the common case, subtracts p·q̂ as one broadcast multiply-add (3–5× faster than a rank-1 GEMM).
    at::Tensor p = apply_linear(xf, q);  // [N, k] projections x·q̂ᵢ
    if (target) p = p - *target;
    at::Tensor removed = q.size(0) == 1 ? at::addcmul(xf, p, q, /*value=*/-1) : xf - apply_linear(p, qt);
    at::Tensor y = removed.to(x.scalar_type()).view(x.sizes());  // [N, d] new tensor, x untouched
    x = s.kind == Selection::Kind::kAll ? y : at::where(s.mask, y, x);
  };
}

// --- the kinds ------------------------------------------------------------------------------
// Everything a kind does besides being made (make_add / make_ablation / make_clamp): its name,
// its checks against a model, its description and the hooks it attaches, one entry per kind in
// kKinds. A new steering method is a Kind value, its make_ function and one entry here.

void check_layer(const ModelConfig& c, int l, const std::string& what) {
  if (l < 0 || l >= c.n_layers)
    fail(what + ": layer " + std::to_string(l) + " is out of range: the model has " + std::to_string(c.n_layers) +
         " layers (0-" + std::to_string(c.n_layers - 1) + ")");
}

void check_width(const ModelConfig& c, int64_t n, const std::string& what) {
  if (n != c.d_model)
    fail(what + ": the direction has d_model " + std::to_string(n) + ", the model has d_model " +
             std::to_string(c.d_model),
         "the vector was made for another model");
}

std::string layers_phrase(const std::vector<int>& layers) {  // "layer 3", "layers 1-4"
  return (layers.size() > 1 ? "layers " : "layer ") + format_layers(layers);
}

// Where attached hooks go, and what they are converted to.
struct AttachTarget {
  HookSet& hooks;
  const ModelConfig& config;
  at::Device device;
  at::ScalarType dtype;
  const RowFilter& rows;
  bool per_row;  // ScopedHook's per_row: the hook may treat two rows' prefix tokens differently
  std::vector<ScopedHook>& out;
};

// Ablate and Clamp: x ← x − Q(Qᵀx − target) at their sites of their layers (every layer if none).
void attach_projection(const Intervention& iv, const std::vector<SiteKind>& sites, std::optional<float> target,
                       const AttachTarget& t) {
  at::Tensor q = iv.basis.to(t.device, at::kFloat).contiguous();  // [k, d]
  at::Tensor qt = q.t().contiguous();                             // [d, k]
  std::vector<int> layers = iv.layers;
  if (layers.empty())
    for (int l = 0; l < t.config.n_layers; ++l) layers.push_back(l);
  for (int l : layers)
    for (SiteKind k : sites) t.out.emplace_back(t.hooks, Site{k, l}, projection_hook(q, qt, target, iv.positions, t.rows), t.per_row);
}

void check_basis(const Intervention& iv, const ModelConfig& c, const std::string& what) {
  if (!iv.basis.defined() || iv.basis.dim() != 2) fail(what + ": no direction (use make_ablation / make_clamp)");
  check_width(c, iv.basis.size(1), what);
  for (int l : iv.layers) check_layer(c, l, what);
}

struct KindOps {
  Kind kind;
  const char* name;
  void (*validate)(const Intervention& iv, const ModelConfig& c, const std::string& what);
  void (*describe)(const Intervention& iv, std::ostream& out);  // after "<name> <label>"
  void (*attach)(const Intervention& iv, const AttachTarget& t);
};

const KindOps kKinds[] = {
    {Kind::kAdd, "add",
     [](const Intervention& iv, const ModelConfig& c, const std::string& what) {
       if (iv.vectors.empty()) fail(what + ": no vectors");
       for (const auto& [l, v] : iv.vectors) {
         check_layer(c, l, what);
         check_width(c, v.numel(), what);
       }
     },
     [](const Intervention& iv, std::ostream& out) {
       std::vector<int> ls;
       for (const auto& [l, v] : iv.vectors) ls.push_back(l);
       out << " ×" << format_number(iv.coef) << " at " << site_kind_name(iv.site) << " of " << layers_phrase(ls);
     },
     [](const Intervention& iv, const AttachTarget& t) {
       for (const auto& [l, v] : iv.vectors) {
         at::Tensor cv = (v * iv.coef).to(t.device, t.dtype);  // once, here: c·v in the model's dtype
         t.out.emplace_back(t.hooks, Site{iv.site, l}, add_hook(cv, iv.positions, t.rows), t.per_row);
       }
     }},
    {Kind::kAblate, "ablate", check_basis,
     [](const Intervention& iv, std::ostream& out) {
       out << " (" << iv.basis.size(0) << " direction" << (iv.basis.size(0) > 1 ? "s" : "")
           << ") at hook_resid_pre, hook_attn_out, hook_mlp_out of "
           << (iv.layers.empty() ? std::string("every layer") : layers_phrase(iv.layers));
     },
     [](const Intervention& iv, const AttachTarget& t) {
       attach_projection(iv, {SiteKind::kResidPre, SiteKind::kAttnOut, SiteKind::kMlpOut}, std::nullopt, t);
     }},
    {Kind::kClamp, "clamp",
     [](const Intervention& iv, const ModelConfig& c, const std::string& what) {
       check_basis(iv, c, what);
       if (iv.layers.empty()) fail(what + ": no layer given");
     },
     [](const Intervention& iv, std::ostream& out) {
       out << " to " << format_number(iv.value) << " at " << site_kind_name(iv.site) << " of "
           << layers_phrase(iv.layers);
     },
     [](const Intervention& iv, const AttachTarget& t) { attach_projection(iv, {iv.site}, iv.value, t); }},
};

const KindOps& ops(Kind k) {
  for (const KindOps& o : kKinds)
    if (o.kind == k) return o;
  fail("intervention: unknown kind " + std::to_string(int(k)));
}

}  // namespace

// --- construction ----------------------------------------------------------------------------

at::Tensor orthonormal_basis(const at::Tensor& directions) {
  at::Tensor d = directions;
  if (d.defined() && d.dim() == 1) d = d.unsqueeze(0);
  if (!d.defined() || d.dim() != 2 || d.size(0) == 0 || d.size(1) == 0)
    fail("subspace: directions must be [k, d_model] with k ≥ 1");
  if (d.size(0) > d.size(1))
    fail("subspace: " + std::to_string(d.size(0)) + " directions in " + std::to_string(d.size(1)) +
         " dimensions cannot be independent");
  at::Tensor a = d.detach().to(at::kCPU, at::kDouble);  // [k, d]
  if (!at::isfinite(a).all().item<bool>()) fail("subspace: a direction has NaN or infinite entries");
  at::Tensor norms = a.norm(2, 1);  // [k]
  for (int64_t i = 0; i < norms.size(0); ++i)
    if (norms[i].item<double>() == 0.0)
      fail("subspace: direction " + std::to_string(i) + " is zero", "a zero vector has no direction to remove");
  a = a / norms.unsqueeze(1);  // unit rows: the rank test below is then scale-free
  auto qr = at::linalg_qr(a.t(), "reduced");  // a.t() [d, k] = Q R
  at::Tensor q = std::get<0>(qr), r = std::get<1>(qr);
  at::Tensor diag = r.diagonal().abs();  // [k]; |R_ii| = the part of row i outside the span of rows < i
  const double kIndependent = 1e-6;
  for (int64_t i = 0; i < diag.size(0); ++i)
    if (diag[i].item<double>() < kIndependent)
      fail("subspace: direction " + std::to_string(i) + " lies in the span of the ones before it (residual " +
               std::to_string(diag[i].item<double>()) + " of its norm)",
           "drop the dependent direction");
  // Sign: row i of the basis points the way direction i does (QR's signs are arbitrary).
  at::Tensor sign = r.diagonal().sign();  // [k]
  return (q * sign.unsqueeze(0)).t().to(at::kFloat).contiguous();  // [k, d]
}

Intervention make_add(const DirectionSet& set, float coef, std::vector<int> layers, PositionSelector positions,
                      std::string label) {
  const std::string what = "add " + label_or(label, "direction set");
  if (set.meta().kind == "ablation")
    fail(what + ": the direction set is marked for ablation (kind \"ablation\"), not addition",
         "ablate it (--ablate FILE instead of --add)");
  if (set.empty()) fail(what + ": the direction set holds no vectors");
  if (!is_stream_site(set.meta().site))
    fail(what + ": site " + site_kind_name(set.meta().site) + " is not a [batch, pos, d_model] site");
  check_layers(layers, what);
  check_positions(positions, what);
  if (!std::isfinite(coef)) fail(what + ": the coefficient is not finite");
  if (layers.empty()) layers = set.layers();
  Intervention iv;
  iv.kind = Kind::kAdd;
  iv.site = set.meta().site;
  iv.coef = coef;
  iv.positions = std::move(positions);
  iv.label = label_or(label, set.meta().method.empty() ? "direction set" : set.meta().method);
  // A set with one vector serves any layer (CAA's "use the layer-L vector at other layers").
  const bool any_layer = set.vectors().size() == 1;
  const int only = set.vectors().begin()->first;
  for (int l : layers) {
    int source = any_layer ? only : l;
    if (!set.has(source)) {
      std::ostringstream present;
      for (int p : set.layers()) present << (p == set.layers().front() ? "" : ",") << p;
      fail(what + ": the set has no vector at layer " + std::to_string(source) + " (it has layers " + present.str() +
               ")",
           "name one of its layers");
    }
    iv.vectors[l] = checked_vector(set.at_layer(source), what + " layer " + std::to_string(source), true);
  }
  if (any_layer && (layers.size() != 1 || layers[0] != only))
    iv.label += " (its layer-" + std::to_string(only) + " vector)";
  return iv;
}

Intervention make_add(const at::Tensor& v, float coef, std::vector<int> layers, PositionSelector positions,
                      SiteKind site, std::string label) {
  const std::string what = "add " + label_or(label, "vector");
  if (layers.empty()) fail(what + ": no layer given", "say at which layer(s) to add the vector");
  if (!is_stream_site(site)) fail(what + ": site " + site_kind_name(site) + " is not a [batch, pos, d_model] site");
  check_layers(layers, what);
  check_positions(positions, what);
  if (!std::isfinite(coef)) fail(what + ": the coefficient is not finite");
  Intervention iv;
  iv.kind = Kind::kAdd;
  iv.site = site;
  iv.coef = coef;
  iv.positions = std::move(positions);
  iv.label = label_or(label, "vector");
  at::Tensor f = checked_vector(v, what, true);
  for (int l : layers) iv.vectors[l] = f;
  return iv;
}

Intervention make_ablation(const at::Tensor& directions, std::vector<int> layers, std::string label) {
  const std::string what = "ablate " + label_or(label, "direction");
  check_layers(layers, what);
  if (directions.defined() && directions.dim() == 1) checked_vector(directions, what);  // names a zero vector
  Intervention iv;
  iv.kind = Kind::kAblate;
  iv.site = SiteKind::kResidPre;
  iv.layers = std::move(layers);
  try {
    iv.basis = orthonormal_basis(directions);
  } catch (const Error& e) {
    fail(what + ": " + e.what(), e.hint());
  }
  iv.label = label_or(label, "direction");
  return iv;
}

Intervention make_clamp(const at::Tensor& r, float value, std::vector<int> layers, PositionSelector positions,
                        SiteKind site, std::string label) {
  const std::string what = "clamp " + label_or(label, "direction");
  if (layers.empty()) fail(what + ": no layer given", "say at which layer(s) to clamp");
  if (!is_stream_site(site)) fail(what + ": site " + site_kind_name(site) + " is not a [batch, pos, d_model] site");
  check_layers(layers, what);
  check_positions(positions, what);
  if (!std::isfinite(value)) fail(what + ": the value is not finite");
  at::Tensor f = checked_vector(r, what);
  Intervention iv;
  iv.kind = Kind::kClamp;
  iv.site = site;
  iv.layers = std::move(layers);
  iv.value = value;
  iv.positions = std::move(positions);
  iv.basis = (f.to(at::kDouble) / f.to(at::kDouble).norm()).to(at::kFloat).unsqueeze(0).contiguous();  // [1, d]
  iv.label = label_or(label, "direction");
  return iv;
}

std::string Intervention::describe() const {
  const KindOps& k = ops(kind);
  std::ostringstream out;
  out << k.name << " " << label;
  k.describe(*this, out);
  out << ", positions " << positions.to_string();
  if (rows) {
    out << ", rows ";
    for (size_t i = 0; i < rows->size(); ++i) out << (i ? "," : "") << (*rows)[i];
  }
  return out.str();
}

// --- Steering --------------------------------------------------------------------------------

Steering& Steering::add(const DirectionSet& set, float coef, std::vector<int> layers, PositionSelector positions) {
  return then(make_add(set, coef, std::move(layers), std::move(positions)));
}

Steering& Steering::add(const at::Tensor& v, float coef, std::vector<int> layers, PositionSelector positions,
                        SiteKind site) {
  return then(make_add(v, coef, std::move(layers), std::move(positions), site));
}

Steering& Steering::ablate(const at::Tensor& directions, std::vector<int> layers) {
  return then(make_ablation(directions, std::move(layers)));
}

Steering& Steering::clamp(const at::Tensor& r, float value, std::vector<int> layers, PositionSelector positions,
                          SiteKind site) {
  return then(make_clamp(r, value, std::move(layers), std::move(positions), site));
}

Steering& Steering::then(Intervention intervention) {
  list_.push_back(std::move(intervention));
  return *this;
}

Steering& Steering::for_rows(std::vector<int64_t> rows) {
  check_rows(rows, "steering");
  rows_ = std::move(rows);
  return *this;
}

std::string Steering::summary() const {
  if (list_.empty()) return "none";
  std::string out;
  for (const Intervention& iv : list_) {
    Intervention shown = iv;
    shown.rows = intersect(iv.rows, rows_);
    out += (out.empty() ? "" : "; ") + shown.describe();
  }
  return out;
}

SteeringScope Steering::attach(HookSet& hooks, const Model& model) const {
  const ModelConfig& c = model.config();
  if (hooks.n_layers() != c.n_layers)
    fail("steering: the hook set was made for " + std::to_string(hooks.n_layers()) + " layers, the model has " +
         std::to_string(c.n_layers));
  const at::ScalarType dtype = model.weights().embed.scalar_type();
  const at::Device device = model.weights().embed.device();

  // Everything is checked before the first hook goes in, so a failure attaches nothing.
  for (const Intervention& iv : list_) {
    const KindOps& k = ops(iv.kind);
    const std::string what = std::string(k.name) + " " + iv.label;
    check_rows(iv.rows, what);
    check_positions(iv.positions, what);
    k.validate(iv, c, what);
  }

  SteeringScope scope;
  for (const Intervention& iv : list_) {
    RowFilter rows(intersect(iv.rows, rows_));
    // Whether the hook may treat two rows' prefix tokens differently: some rows only, or
    // positions counted back from each row's own prompt end.
    const bool per_row = !rows.all() || std::any_of(iv.positions.indices.begin(), iv.positions.indices.end(),
                                                    [](int64_t i) { return i < 0; });
    ops(iv.kind).attach(iv, AttachTarget{hooks, c, device, dtype, rows, per_row, scope.hooks_});
  }
  return scope;
}

}  // namespace steer
