// Hook sites: the named places in a forward pass where activations can be read or changed.
// Names are TransformerLens's, verbatim, with 0-based layers:
//   hook_embed                     [batch, pos, d_model]   token embedding (after any scaling)
//   blocks.{l}.hook_resid_pre      [batch, pos, d_model]   input of block l
//   blocks.{l}.attn.hook_z         [batch, pos, head, d_head]  attention output before o_proj
//   blocks.{l}.attn.hook_pattern   [batch, head, query, key]   attention probabilities
//   blocks.{l}.hook_attn_out       [batch, pos, d_model]   what attention writes to the residual
//   blocks.{l}.hook_resid_mid      [batch, pos, d_model]   after the attention residual add
//   blocks.{l}.hook_mlp_out        [batch, pos, d_model]   what the MLP writes to the residual
//   blocks.{l}.hook_resid_post     [batch, pos, d_model]   output of block l
//   ln_final.hook_normalized       [batch, pos, d_model]   final norm output (input of the LM head)
// This file knows nothing of tensors or models.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace steer {

enum class SiteKind : uint8_t {
  kEmbed,
  kResidPre,
  kAttnZ,
  kAttnPattern,
  kAttnOut,
  kResidMid,
  kMlpOut,
  kResidPost,
  kLnFinal,
};
constexpr int kNumSiteKinds = 9;

struct Site {
  SiteKind kind = SiteKind::kResidPre;
  int layer = -1;  // -1 for hook_embed and ln_final.hook_normalized

  bool operator==(const Site& o) const { return kind == o.kind && layer == o.layer; }
  bool per_layer() const { return kind != SiteKind::kEmbed && kind != SiteKind::kLnFinal; }
};

// "blocks.3.hook_resid_pre" etc. parse_site throws steer::Error naming the text and listing
// the valid forms; n_layers (when ≥ 0) bounds-checks the layer.
std::string site_name(const Site& site);
Site parse_site(const std::string& text, int n_layers = -1);

// The short per-layer name ("hook_resid_pre") ↔ kind, for options like --site resid_pre.
SiteKind parse_site_kind(const std::string& text);
std::string site_kind_name(SiteKind kind);

// All site names of a model with n_layers blocks, in forward order.
std::vector<std::string> all_site_names(int n_layers);

// A list of 0-based layers: "all", "0-29", "3,5,7", "0-5,10"; sorted, without duplicates.
// n_layers > 0 bounds the layers ("all" is 0..n_layers−1); n_layers ≤ 0 when the model is not
// known yet (a steering spec read before the model loads): no "all", and layers stop at
// kMaxModelLayers − 1 (no model has that many; it bounds what a typed range allocates). steer::Error
// naming the text (prefixed by `what`, e.g. "--add", when given) and, when known, the model's
// layer count, when the text is malformed or a layer is out of range.
std::vector<int> parse_layer_list(const std::string& text, int n_layers, const std::string& what = "");

// The most layers a model may have (configs with more are refused: a layer count sizes allocations).
constexpr int kMaxModelLayers = 1024;

}  // namespace steer
