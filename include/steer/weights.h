// Weights: plain structs of tensors, as llama2.c and gemma.cpp keep them. The loader fills
// them from GGUF or safetensors; the forward pass (models/decoder.cc) reads them.
// Layout is Hugging Face's: a linear weight is [out_features, in_features].
// Norm weights hold the effective multiplier (for Gemma that is 1 + w_hf, as GGUF stores it).
#pragma once
#include <ATen/core/Tensor.h>

#include <type_traits>
#include <utility>
#include <vector>

namespace steer {

struct LayerWeights {
  at::Tensor attn_norm;       // [d_model]                       input_layernorm
  at::Tensor wqkv;            // [(n_heads + 2·n_kv)·head_dim, d_model]  q_proj;k_proj;v_proj fused
  at::Tensor bqkv;            // [(n_heads + 2·n_kv)·head_dim] or undefined (qwen2 has it)
  at::Tensor q_norm, k_norm;  // [head_dim] or undefined (gemma3)
  at::Tensor wo;              // [d_model, n_heads·head_dim]     o_proj
  at::Tensor bo;              // [d_model] or undefined
  at::Tensor post_attn_norm;  // [d_model] or undefined (gemma2/3 post_attention_layernorm)
  at::Tensor ffn_norm;        // [d_model]  llama: post_attention_layernorm; gemma2/3: pre_feedforward_layernorm
  at::Tensor w_gate_up;       // [2·d_ffn, d_model]              gate_proj;up_proj fused
  at::Tensor w_down;          // [d_model, d_ffn]                down_proj
  at::Tensor post_ffn_norm;   // [d_model] or undefined (gemma2/3 post_feedforward_layernorm)
};

// Every tensor field of a layer with its name, in declaration order (undefined ones included),
// for code that visits them all (fine-tuning, checks); const-ness follows the argument.
template <class Layer>
auto layer_tensors(Layer& w) {
  using T = std::conditional_t<std::is_const_v<Layer>, const at::Tensor, at::Tensor>;
  return std::vector<std::pair<const char*, T*>>{
      {"attn_norm", &w.attn_norm}, {"wqkv", &w.wqkv},       {"bqkv", &w.bqkv},
      {"q_norm", &w.q_norm},       {"k_norm", &w.k_norm},   {"wo", &w.wo},
      {"bo", &w.bo},               {"post_attn_norm", &w.post_attn_norm}, {"ffn_norm", &w.ffn_norm},
      {"w_gate_up", &w.w_gate_up}, {"w_down", &w.w_down},   {"post_ffn_norm", &w.post_ffn_norm}};
}

struct ModelWeights {
  at::Tensor embed;       // [vocab, d_model]  embed_tokens
  std::vector<LayerWeights> layers;
  at::Tensor final_norm;  // [d_model]         norm
  at::Tensor lm_head;     // [vocab, d_model]  lm_head (the same tensor as embed when tied)
  at::Tensor rope_freqs;  // [head_dim / 2] float32 or undefined: llama3 frequency divisors (GGUF rope_freqs.weight)
};

}  // namespace steer
