// The decoder written with differentiable libtorch ops, for training (steer/finetune.h). It
// follows models/decoder.cc line for line — same family switches from ModelConfig — without
// its inference-only parts: no KV cache, no hooks, no fused kernels, and float32 throughout
// (the rounding of HF's bf16 path does not matter for a training signal).
#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "steer/error.h"
#include "steer/finetune.h"
#include "steer/model.h"

namespace steer {
namespace {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, float eps) {
  return x * at::rsqrt(x.square().mean(-1, /*keepdim=*/true) + eps) * weight;
}

// x [B, T, heads, hd] rotated by rotate_half with cos, sin [B, T, 1, hd / 2].
at::Tensor rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return at::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
}

// Weights in any float dtype are used as float32 (a no-op, gradients intact, when they are).
at::Tensor f32(const at::Tensor& t) { return t.defined() ? t.to(at::kFloat) : t; }

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return b.defined() ? at::linear(x, w, b) : at::linear(x, w);
}

}  // namespace

at::Tensor trainable_last_logits(const Model& model, const ModelWeights& w,
                                 const std::vector<std::vector<int32_t>>& prompts) {
  const ModelConfig& c = model.config();
  if (prompts.empty()) fail("trainable_last_logits: no prompts");
  const int64_t B = int64_t(prompts.size());
  int64_t T = 0;
  for (const auto& p : prompts) {
    if (p.empty()) fail("trainable_last_logits: an empty prompt");
    T = std::max<int64_t>(T, int64_t(p.size()));
  }
  // Left padding: every row's last real token is at T − 1.
  at::Tensor tokens = at::full({B, T}, int64_t(model.pad_id()), at::kLong);
  at::Tensor valid = at::zeros({B, T}, at::kBool);
  auto tok = tokens.accessor<int64_t, 2>();
  auto val = valid.accessor<bool, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[size_t(b)];
    const int64_t pad = T - int64_t(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      tok[b][pad + int64_t(i)] = p[i];
      val[b][pad + int64_t(i)] = true;
    }
  }
  const at::Device dev = w.embed.device();
  tokens = tokens.to(dev);
  valid = valid.to(dev);
  at::Tensor pos = (valid.to(at::kLong).cumsum(1) - 1).clamp_min(0);  // [B, T]

  // Additive masks [B, 1, T, T]: causal, no padding keys; padding queries see themselves.
  at::Tensor qp = at::arange(T, at::TensorOptions().device(dev)).view({1, T, 1});
  at::Tensor kp = at::arange(T, at::TensorOptions().device(dev)).view({1, 1, T});
  at::Tensor causal = (kp <= qp) & valid.unsqueeze(1);
  at::Tensor self = (kp == qp) & valid.logical_not().unsqueeze(2);
  auto additive = [&](const at::Tensor& allowed) {
    return at::zeros(allowed.sizes(), at::TensorOptions().dtype(at::kFloat).device(dev))
        .masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity())
        .unsqueeze(1);
  };
  at::Tensor mask_global = additive(causal | self);
  at::Tensor mask_local = mask_global;
  if (c.sliding_window > 0) {
    at::Tensor pd = pos.unsqueeze(2) - pos.unsqueeze(1);  // [B, T, T] query − key position
    mask_local = additive((causal & (pd < c.sliding_window)) | self);
  }

  auto tables = [&](int layer) {
    at::Tensor angles = pos.to(at::kFloat).unsqueeze(-1) * model.rope_inv_freq(layer).to(dev);  // [B, T, hd/2]
    return std::make_pair(angles.cos().unsqueeze(2), angles.sin().unsqueeze(2));
  };
  std::pair<at::Tensor, at::Tensor> global_tables, local_tables;  // made on first use
  auto tables_of = [&](int layer) -> const std::pair<at::Tensor, at::Tensor>& {
    auto& t = c.is_local(layer) ? local_tables : global_tables;
    if (!t.first.defined()) t = tables(layer);
    return t;
  };

  const int64_t H = c.n_heads, Hkv = c.n_kv_heads, hd = c.head_dim;
  const float scale = c.attn_scale > 0 ? c.attn_scale : 1.f / std::sqrt(float(hd));
  at::Tensor x = at::embedding(f32(w.embed), tokens);
  if (c.embed_scale) x = x * std::sqrt(double(c.d_model));
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& lw = w.layers[size_t(l)];
    const bool local = c.is_local(l);
    const auto& [cos, sin] = tables_of(l);
    at::Tensor h = rms_norm(x, f32(lw.attn_norm), c.norm_eps);
    at::Tensor qkv = linear(h, f32(lw.wqkv), f32(lw.bqkv));
    at::Tensor q = qkv.narrow(-1, 0, H * hd).view({B, T, H, hd});
    at::Tensor k = qkv.narrow(-1, H * hd, Hkv * hd).view({B, T, Hkv, hd});
    at::Tensor v = qkv.narrow(-1, (H + Hkv) * hd, Hkv * hd).view({B, T, Hkv, hd});
    if (c.qk_norm) {
      q = rms_norm(q, f32(lw.q_norm), c.norm_eps);
      k = rms_norm(k, f32(lw.k_norm), c.norm_eps);
    }
    q = rope(q, cos, sin).transpose(1, 2);  // [B, H, T, hd]
    k = rope(k, cos, sin).transpose(1, 2);  // [B, Hkv, T, hd]
    v = v.transpose(1, 2);
    if (H != Hkv) {  // query head h reads kv head h / G (HF repeat_kv)
      k = k.repeat_interleave(H / Hkv, 1);
      v = v.repeat_interleave(H / Hkv, 1);
    }
    at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) * scale;  // [B, H, T, T]
    if (c.attn_softcap > 0) scores = at::tanh(scores / c.attn_softcap) * c.attn_softcap;
    at::Tensor probs = at::softmax(scores + (local ? mask_local : mask_global), -1);
    at::Tensor z = at::matmul(probs, v).transpose(1, 2).reshape({B, T, H * hd});
    at::Tensor attn = linear(z, f32(lw.wo), f32(lw.bo));
    if (c.post_norms) attn = rms_norm(attn, f32(lw.post_attn_norm), c.norm_eps);
    x = x + attn;
    h = rms_norm(x, f32(lw.ffn_norm), c.norm_eps);
    at::Tensor gate_up = at::linear(h, f32(lw.w_gate_up));
    at::Tensor gate = gate_up.narrow(-1, 0, c.d_ffn), up = gate_up.narrow(-1, c.d_ffn, c.d_ffn);
    at::Tensor act = c.activation == Activation::kSilu ? at::silu(gate) : at::gelu(gate, "tanh");
    at::Tensor mlp = at::linear(act * up, f32(lw.w_down));
    if (c.post_norms) mlp = rms_norm(mlp, f32(lw.post_ffn_norm), c.norm_eps);
    x = x + mlp;
  }
  x = rms_norm(x.select(1, T - 1), f32(w.final_norm), c.norm_eps);  // [B, d_model]
  at::Tensor logits = at::linear(x, f32(w.lm_head));
  if (c.final_softcap > 0) logits = at::tanh(logits / c.final_softcap) * c.final_softcap;
  return logits;
}

}  // namespace steer
