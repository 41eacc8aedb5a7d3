// steer interventions — changes to the residual stream made through hooks for the length of a
// scope: add a vector (ActAdd, CAA, llama.cpp control vectors), ablate a direction or a subspace
// (Arditi et al.), clamp a projection to a value. They compose, and each can be limited to some
// positions and some batch rows.
//
//   Steering s;
//   s.ablate(refusal_dir).add(v, 4.0f, {12}, PositionSelector::generated());
//   HookSet hooks(model->config().n_layers);
//   {
//     SteeringScope scope = s.attach(hooks, *model);   // hooks in place
//     auto out = generate(*model, prompts, options, &hooks);
//   }                                                  // hooks gone: the model is as before
//
// What each kind does, at each site it touches, to each selected token's activation x [d_model]:
//   Add     x ← x + c·v at the chosen layers of one site kind (default hook_resid_post, as
//           llama.cpp applies control vectors; hook_resid_pre for Arditi's "induce"), v per layer.
//   Ablate  x ← x − Q Qᵀ x, Q an orthonormal basis of the given direction(s) (r̂ for one), at
//           hook_resid_pre, hook_attn_out and hook_mlp_out of every layer (or the chosen ones):
//           Arditi's three hooks per block, so nothing written to the residual stream keeps a
//           component along r̂. Computed in float32 even for a bf16 model, then cast back: the
//           projection coefficient x·r̂ is a sum over d_model products, often of a large activation,
//           and bf16 keeps 8 bits — rounding it there leaves a residue of ~2⁻⁹·|x·r̂| along r̂ at
//           each of the 3·n_layers sites, which compounds; in float32 the only error left is the
//           final per-element rounding to bf16.
//   Clamp   x ← x − (x·r̂ − value)·r̂: the projection on r̂ becomes `value`, at the chosen layers
//           of one site kind. Computed in float32 like Ablate.
//
// Positions (PositionSelector) count within each row's own sequence: all, prompt, generated,
// after-instruction (CAA: from the start of the chat template's post-instruction tail on, i.e. the
// end of the prompt and every generated token), or explicit indices (negative = from the prompt's
// end). Padding positions are never changed. Ablate defaults to all positions.
//
// Rows: an intervention (or a whole Steering, with for_rows) can be limited to some batch rows,
// so one decode batch can serve requests with different steering. Rows it does not select come
// out bit-identical to an unsteered run of the same batch; a hook whose rows are all absent from
// the batch returns after a host-side check, without touching a tensor.
//
// Order: interventions attach in the order they were added to the Steering, and hooks at one site
// run in the order attached, so at a site two interventions share the earlier one acts first
// (`ablate(r).add(r, c, ..., kResidPre)` leaves projection c at that resid_pre; the reverse order
// leaves 0). An ablation at every layer also removes r̂ from what an Add wrote at an earlier site
// once it reaches the next ablated site (the next block's resid_pre): add along a direction you
// ablate only if that is what you want. Hooks attached to the HookSet before the scope see the
// activation before the interventions, hooks attached after it see it after.
//
// Cost: vectors are moved to the model's device once, at attach (Add vectors also to its dtype;
// Ablate/Clamp bases stay float32). Interventions never modify a tensor in place — they replace
// it — so a capture that kept a reference to it earlier still holds the value it saw.
//
// Failure: steer::Error naming the intervention and the problem — an ablation-kind DirectionSet
// given to Add, a d_model mismatch (both numbers), a layer outside the model, a zero or
// non-finite direction, linearly dependent directions for a subspace, a site that is not
// [batch, pos, d_model].
#pragma once
#include <ATen/core/Tensor.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "steer/sites.h"
#include "steer/hooks.h"

namespace steer {

class Model;
class DirectionSet;

// One intervention, as a value. Build it with make_add / make_ablation / make_clamp (which
// validate and normalize), or through Steering's methods.
struct Intervention {
  enum class Kind { kAdd, kAblate, kClamp };
  Kind kind = Kind::kAdd;
  SiteKind site = SiteKind::kResidPost;  // Add, Clamp: the site kind (Ablate uses its three sites)
  std::map<int, at::Tensor> vectors;     // Add: layer → v [d_model] float32, as given (not normalized)
  float coef = 1.f;                      // Add: multiplier c
  at::Tensor basis;                      // Ablate: [k, d_model] float32, orthonormal rows; Clamp: [1, d_model] unit
  std::vector<int> layers;               // Ablate, Clamp: layers; empty for Ablate = every layer
  float value = 0.f;                     // Clamp: the projection's new value
  PositionSelector positions = PositionSelector::all();
  std::optional<std::vector<int64_t>> rows;  // batch rows it applies to; unset = every row
  std::string label;                     // where the vector came from ("refusal.gguf"), for summaries

  // One line: "add refusal.gguf ×4 at blocks.{12}.hook_resid_post, positions generated".
  std::string describe() const;
};

// Every constructor and Steering method takes its arguments in one order:
//   what (vector / set / directions), coef or value, layers, positions, site, label.
//
// Add c·v. From a DirectionSet: at its site, at its layers, or at `layers` — each of which it
// must hold, unless it holds a single vector, which then serves every layer listed (CAA's
// override: the layer-L vector tried at other layers). Refuses a set whose meta().kind is
// "ablation". From one vector [d_model]: at `layers`.
Intervention make_add(const DirectionSet& set, float coef, std::vector<int> layers = {},
                      PositionSelector positions = PositionSelector::all(), std::string label = "");
Intervention make_add(const at::Tensor& v, float coef, std::vector<int> layers,
                      PositionSelector positions = PositionSelector::all(), SiteKind site = SiteKind::kResidPost,
                      std::string label = "");
// Ablate one direction [d_model] or the subspace spanned by the rows of [k, d_model] (any
// scaling; orthonormalized here). layers empty = every layer; always every position.
Intervention make_ablation(const at::Tensor& directions, std::vector<int> layers = {}, std::string label = "");
// Clamp the projection on r̂ (r [d_model], normalized here) to `value`.
Intervention make_clamp(const at::Tensor& r, float value, std::vector<int> layers,
                        PositionSelector positions = PositionSelector::all(), SiteKind site = SiteKind::kResidPost,
                        std::string label = "");

// An orthonormal basis [k, d_model] float32 of the span of the rows of `directions` [k, d_model]
// (QR in float64, rows in the given order: row 0 is r̂₀). steer::Error if the rows are
// (numerically) linearly dependent, zero or not finite.
at::Tensor orthonormal_basis(const at::Tensor& directions);

// The hooks of an attached Steering; removes them all when it is destroyed or reset().
// The HookSet must outlive it.
class SteeringScope {
 public:
  SteeringScope() = default;
  SteeringScope(SteeringScope&&) noexcept = default;
  SteeringScope& operator=(SteeringScope&& o) noexcept {
    reset();
    hooks_ = std::move(o.hooks_);
    return *this;
  }
  ~SteeringScope() { reset(); }
  void reset() {
    while (!hooks_.empty()) hooks_.pop_back();  // detach in reverse order of attaching
  }
  size_t hook_count() const { return hooks_.size(); }

 private:
  friend class Steering;
  std::vector<ScopedHook> hooks_;
};

// A list of interventions applied together, in order.
class Steering {
 public:
  Steering& add(const DirectionSet& set, float coef = 1.f, std::vector<int> layers = {},
                PositionSelector positions = PositionSelector::all());
  Steering& add(const at::Tensor& v, float coef, std::vector<int> layers,
                PositionSelector positions = PositionSelector::all(), SiteKind site = SiteKind::kResidPost);
  Steering& ablate(const at::Tensor& directions, std::vector<int> layers = {});
  Steering& clamp(const at::Tensor& r, float value, std::vector<int> layers,
                  PositionSelector positions = PositionSelector::all(), SiteKind site = SiteKind::kResidPost);
  Steering& then(Intervention intervention);  // append one made elsewhere

  // Limits every intervention (those added before and after) to these batch rows; rows
  // beyond the batch select nothing.
  Steering& for_rows(std::vector<int64_t> rows);

  // Checks everything against the model (d_model, layer range, HookSet size), moves the vectors
  // to the model's device (and dtype, for Add) and attaches the hooks. steer::Error before
  // attaching anything if a check fails.
  SteeringScope attach(HookSet& hooks, const Model& model) const;

  const std::vector<Intervention>& interventions() const { return list_; }
  bool empty() const { return list_.empty(); }
  // "; "-joined describe() of each, or "none".
  std::string summary() const;

 private:
  std::vector<Intervention> list_;
  std::optional<std::vector<int64_t>> rows_;
};

}  // namespace steer
