// The one GGUF ↔ Hugging Face tensor-name table. The engine names weights by role; this maps a
// role (and layer) to the name each format uses. Arch matters in one place: llama.cpp's
// `ffn_norm` is HF's `post_attention_layernorm` for llama/qwen2 but `pre_feedforward_layernorm`
// for gemma2/3, whose `post_attention_layernorm` is GGUF's `post_attention_norm`.
#pragma once
#include <string>
#include <vector>

namespace steer {

enum class TensorRole {
  kEmbed, kFinalNorm, kLmHead, kRopeFreqs,  // global
  kAttnNorm, kQ, kK, kV, kQBias, kKBias, kVBias, kQNorm, kKNorm, kO, kOBias,
  kPostAttnNorm, kFfnNorm, kGate, kUp, kDown, kPostFfnNorm,  // per layer
};

bool role_is_per_layer(TensorRole role);
const std::vector<TensorRole>& all_layer_roles();

// post_norms: the model has gemma2/3-style post-attention and post-MLP norms.
std::string gguf_tensor_name(TensorRole role, int layer);
std::string hf_tensor_name(TensorRole role, int layer, bool post_norms);

}  // namespace steer
