#include "io/tensor_names.h"

namespace steer {
namespace {

struct Row {
  TensorRole role;
  const char* gguf;  // after "blk.{l}." for per-layer roles
  const char* hf;    // after "model.layers.{l}." for per-layer roles
};
constexpr Row kGlobal[] = {
    {TensorRole::kEmbed, "token_embd.weight", "model.embed_tokens.weight"},
    {TensorRole::kFinalNorm, "output_norm.weight", "model.norm.weight"},
    {TensorRole::kLmHead, "output.weight", "lm_head.weight"},
    {TensorRole::kRopeFreqs, "rope_freqs.weight", ""},
};
constexpr Row kLayer[] = {
    {TensorRole::kAttnNorm, "attn_norm.weight", "input_layernorm.weight"},
    {TensorRole::kQ, "attn_q.weight", "self_attn.q_proj.weight"},
    {TensorRole::kK, "attn_k.weight", "self_attn.k_proj.weight"},
    {TensorRole::kV, "attn_v.weight", "self_attn.v_proj.weight"},
    {TensorRole::kQBias, "attn_q.bias", "self_attn.q_proj.bias"},
    {TensorRole::kKBias, "attn_k.bias", "self_attn.k_proj.bias"},
    {TensorRole::kVBias, "attn_v.bias", "self_attn.v_proj.bias"},
    {TensorRole::kQNorm, "attn_q_norm.weight", "self_attn.q_norm.weight"},
    {TensorRole::kKNorm, "attn_k_norm.weight", "self_attn.k_norm.weight"},
    {TensorRole::kO, "attn_output.weight", "self_attn.o_proj.weight"},
    {TensorRole::kOBias, "attn_output.bias", "self_attn.o_proj.bias"},
    {TensorRole::kPostAttnNorm, "post_attention_norm.weight", "post_attention_layernorm.weight"},
    {TensorRole::kFfnNorm, "ffn_norm.weight", "post_attention_layernorm.weight"},  // llama/qwen2
    {TensorRole::kGate, "ffn_gate.weight", "mlp.gate_proj.weight"},
    {TensorRole::kUp, "ffn_up.weight", "mlp.up_proj.weight"},
    {TensorRole::kDown, "ffn_down.weight", "mlp.down_proj.weight"},
    {TensorRole::kPostFfnNorm, "post_ffw_norm.weight", "post_feedforward_layernorm.weight"},
};

}  // namespace

bool role_is_per_layer(TensorRole role) { return role >= TensorRole::kAttnNorm; }

const std::vector<TensorRole>& all_layer_roles() {
  static const std::vector<TensorRole> roles = [] {
    std::vector<TensorRole> r;
    for (const auto& row : kLayer) r.push_back(row.role);
    return r;
  }();
  return roles;
}

std::string gguf_tensor_name(TensorRole role, int layer) {
  for (const auto& row : kGlobal)
    if (row.role == role) return row.gguf;
  for (const auto& row : kLayer)
    if (row.role == role) return "blk." + std::to_string(layer) + "." + row.gguf;
  return "";
}

std::string hf_tensor_name(TensorRole role, int layer, bool post_norms) {
  for (const auto& row : kGlobal)
    if (row.role == role) return row.hf;
  if (role == TensorRole::kFfnNorm && post_norms)
    return "model.layers." + std::to_string(layer) + ".pre_feedforward_layernorm.weight";
  for (const auto& row : kLayer)
    if (row.role == role) return "model.layers." + std::to_string(layer) + "." + row.hf;
  return "";
}

}  // namespace steer
