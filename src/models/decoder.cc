// The forward pass of every supported family (llama, qwen2, gemma, gemma2, gemma3), read top
// to bottom like the papers draw it. Family differences are ModelConfig fields, not subclasses
// (see models/config.cc for which family sets which). Each hook site is one visible line:
//   SITE(kind, layer, tensor)  — a flag test; the hook runs only if one is attached.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cmath>

#include "steer/error.h"
#include "models/attention_cpu.h"
#include "models/elementwise_cpu.h"
#include "models/linear.h"
#include "steer/model.h"

namespace steer {
namespace {

// RMSNorm over the last dimension, computed in float32 as Hugging Face does. `weight` is the
// effective multiplier. Llama casts back before the weight multiply; Gemma multiplies in float.
// float32 on an AVX2 CPU: one fused pass (models/elementwise_cpu.h; both orders round alike in
// float32). Otherwise the sum of squares comes from one vector_norm pass that reads x in its own
// dtype and accumulates in float32 (‖x‖² equals HF's float32 Σx² to an ulp): libtorch 1.13's
// pow → mean → add → rsqrt chain costs ~2.4× more on bf16 activations.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, float eps, bool multiply_in_float) {
  if (fused_elementwise_supported(x) && x.is_contiguous() && weight.scalar_type() == at::kFloat)
    return rms_norm_f32(x, weight.contiguous(), eps);
  at::Tensor norm = at::linalg_vector_norm(x, 2, {-1}, /*keepdim=*/true, at::kFloat);  // [.., 1]
  at::Tensor inv_rms = at::rsqrt(norm.square_().div_(double(x.size(-1))).add_(eps));
  at::Tensor normed = x.to(at::kFloat) * inv_rms;
  if (multiply_in_float) return (normed * weight.to(at::kFloat)).to(x.scalar_type());
  return normed.to(x.scalar_type()) * weight;
}

// The gated MLP's activation, act(gate) · up, rounded as HF rounds it (act in float, then to the
// model's dtype, then the product). For bf16 the activation runs on a float32 copy: libtorch
// 1.13's bf16 silu/gelu kernels are ~2× slower than converting, computing in float32, converting back.
// float32 SiLU on an AVX2 CPU: one fused pass (models/elementwise_cpu.h).
// gate_up [B, T, 2·d_ffn]: the fused projection, gate then up.
at::Tensor gated_activation(const at::Tensor& gate_up, int64_t d_ffn, Activation activation) {
  if (activation == Activation::kSilu && fused_elementwise_supported(gate_up) && gate_up.is_contiguous())
    return silu_mul_f32(gate_up);
  at::Tensor gate = gate_up.narrow(-1, 0, d_ffn), up = gate_up.narrow(-1, d_ffn, d_ffn);
  auto act = [&](const at::Tensor& g) { return activation == Activation::kSilu ? at::silu(g) : at::gelu(g, "tanh"); };
  if (gate.scalar_type() == at::kFloat) return act(gate) * up;
  return act(gate.to(at::kFloat)).to(gate.scalar_type()) * up;
}

// Rotary embedding, NeoX / rotate_half layout: x = [x1, x2] halves of head_dim, written into
// dst. x, dst [batch, seq, heads, head_dim] (dst may be a view of the KV cache); cos, sin
// [batch, seq, head_dim / 2]. On the CPU one kernel pass (models/attention_cpu.h); elsewhere
// libtorch ops, which round the same way.
void rope_into_dst(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, at::Tensor dst) {
  if (x.device().is_cpu()) return rope_into(x, cos, sin, dst);
  int64_t half = x.size(-1) / 2;
  at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  at::Tensor c = cos.unsqueeze(2), s = sin.unsqueeze(2);  // [B, T, 1, hd/2]
  dst.narrow(-1, 0, half).copy_(x1 * c - x2 * s);
  dst.narrow(-1, half, half).copy_(x2 * c + x1 * s);
}

// cos/sin tables for the given positions: [batch, seq, head_dim / 2] in dtype.
std::pair<at::Tensor, at::Tensor> rope_tables(const at::Tensor& positions, const at::Tensor& inv_freq,
                                              at::ScalarType dtype) {
  at::Tensor angles = positions.clamp_min(0).to(at::kFloat).unsqueeze(-1) * inv_freq;  // [B, T, hd/2]
  return {angles.cos().to(dtype).contiguous(), angles.sin().to(dtype).contiguous()};
}

// Additive attention mask [batch, 1, seq, keys] (0 or -inf). A query sees keys at positions
// ≤ its own, never padding, and on local layers only the last `window` positions. Padding
// queries see themselves so that softmax stays finite; their outputs are never used.
at::Tensor attention_mask(const at::Tensor& q_pos, const at::Tensor& k_pos, int64_t window,
                          at::ScalarType dtype) {
  at::Tensor qp = q_pos.unsqueeze(-1), kp = k_pos.unsqueeze(1);  // [B, T, 1], [B, 1, S]
  at::Tensor allowed = (kp <= qp) & (kp >= 0);
  if (window > 0) allowed = allowed & ((qp - kp) < window);
  int64_t T = q_pos.size(1), S = k_pos.size(1);
  at::Tensor self = at::eye(T, S, at::kBool).roll(S - T, 1).unsqueeze(0);  // query t ↔ key slot S-T+t
  allowed = allowed | (self & (qp < 0));
  at::Tensor mask = at::zeros(allowed.sizes(), at::TensorOptions().dtype(dtype));
  mask.masked_fill_(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  return mask.unsqueeze(1);
}

}  // namespace

#define SITE(kind, layer, x)                                          \
  do {                                                                \
    if (hooks && hooks->active(SiteKind::kind, layer)) {              \
      ctx.site = Site{SiteKind::kind, layer};                         \
      hooks->run(SiteKind::kind, layer, x, ctx);                      \
    }                                                                 \
  } while (0)

at::Tensor Model::forward(const at::Tensor& input, BatchState& state, const ForwardArgs& args) const {
  const int first_layer = args.first_layer;
  const HookSet* hooks = args.hooks;
  const LogitsMode mode = args.logits;
  const std::optional<Site>& stop_after = args.stop_after;
  if (first_layer < 0 || first_layer >= config_.n_layers)
    fail("forward: first layer " + std::to_string(first_layer) + " is outside the model's " +
         std::to_string(config_.n_layers) + " layers");
  if (first_layer == 0 && (input.dim() != 2 || input.size(0) != state.batch))
    fail("forward: tokens must be [batch, seq] with batch " + std::to_string(state.batch) + ", got " +
         std::to_string(input.dim()) + "-d tensor");
  if (first_layer > 0 &&
      (input.dim() != 3 || input.size(0) != state.batch || input.size(2) != config_.d_model))
    fail("forward: from layer " + std::to_string(first_layer) + " the input is the residual stream [" +
         std::to_string(state.batch) + ", seq, " + std::to_string(config_.d_model) + "]");
  const ModelConfig& c = config_;
  c10::InferenceMode inference;  // no autograd bookkeeping: nothing here trains
  const bool from_tokens = first_layer == 0;
  const int64_t B = input.size(0), T = input.size(1);
  if (state.cached() && state.length + T > state.capacity)
    fail("forward: KV cache holds " + std::to_string(state.capacity) + " slots, need " +
             std::to_string(state.length + T),
         "allocate a larger cache (max new tokens too large?)");
  if (!state.cached() && state.length != 0)
    fail("forward: a batch without a KV cache must be run in one forward");
  if (stop_after && mode != LogitsMode::kNone)
    fail("forward: stop_after needs LogitsMode::kNone (deeper layers are skipped)");
  if (stop_after && ((stop_after->kind != SiteKind::kResidPre && stop_after->kind != SiteKind::kResidPost) ||
                     stop_after->layer < 0 || stop_after->layer >= c.n_layers))
    fail("forward: stop_after must be hook_resid_pre or hook_resid_post of a layer 0.." +
         std::to_string(c.n_layers - 1) + ", got " + site_name(*stop_after));
  auto stops_at = [&](SiteKind kind, int l) { return stop_after && stop_after->kind == kind && stop_after->layer == l; };
  if (hooks && !hooks->empty() && hooks->n_layers() != c.n_layers)
    fail("forward: hook set was made for " + std::to_string(hooks->n_layers()) + " layers, model has " +
         std::to_string(c.n_layers));
  const at::ScalarType dt = weights_.embed.scalar_type();

  const at::Device dev = weights_.embed.device();
  at::Tensor q_pos = slot_positions(state, T).to(dev);  // [B, T]
  at::Tensor k_pos = state.cached() ? slot_positions(state, state.length + T, 0).to(dev) : q_pos;  // [B, S]
  HookContext ctx{Site{}, &state, q_pos, state.at_prompt()};

  // Masks and rope tables shared by all layers of a kind (global / local).
  at::Tensor mask_global = attention_mask(q_pos, k_pos, 0, dt);
  at::Tensor mask_local = c.sliding_window > 0 ? attention_mask(q_pos, k_pos, c.sliding_window, dt) : mask_global;
  auto [cos_g, sin_g] = rope_tables(q_pos, inv_freq_, dt);
  at::Tensor cos_l = cos_g, sin_l = sin_g;
  if (inv_freq_local_.defined()) std::tie(cos_l, sin_l) = rope_tables(q_pos, inv_freq_local_, dt);

  // Left padding's rows: nothing real reads them (attention masks them out), so the position-wise
  // MLP runs on the real rows only, ~6 % of a length-sorted prompt batch. Padding's mlp_out is 0.
  at::Tensor real_rows;  // [N] flat indices into [B·T], defined when some rows are padding
  if (T > 1) {
    at::Tensor rows = (q_pos >= 0).view(-1).nonzero().squeeze(1);
    if (rows.numel() > 0 && rows.numel() < B * T) real_rows = rows;
  }

  at::Tensor x;  // [B, T, d_model]
  if (from_tokens) {
    x = at::embedding(weights_.embed, input.to(dev));
    if (c.embed_scale) x = x * at::scalar_tensor(std::sqrt(double(c.d_model)), at::TensorOptions().dtype(dt));
    SITE(kEmbed, -1, x);
  } else {
    x = input.to(dt);
  }

  const bool gemma_norm = c.norm_plus_one;
  for (int l = first_layer; l < c.n_layers; ++l) {
    const LayerWeights& w = weights_.layers[l];
    const bool local = c.is_local(l);
    SITE(kResidPre, l, x);
    if (stops_at(SiteKind::kResidPre, l)) break;

    at::Tensor h = rms_norm(x, w.attn_norm, c.norm_eps, gemma_norm);
    at::Tensor attn = attention(l, h, state, local ? mask_local : mask_global, local ? cos_l : cos_g,
                                local ? sin_l : sin_g, hooks, ctx);  // [B, T, d_model]
    if (c.post_norms) attn = rms_norm(attn, w.post_attn_norm, c.norm_eps, gemma_norm);
    SITE(kAttnOut, l, attn);
    x = x + attn;
    SITE(kResidMid, l, x);

    at::Tensor xr = real_rows.defined() ? x.reshape({-1, c.d_model}).index_select(0, real_rows) : x;  // rows run
    h = rms_norm(xr, w.ffn_norm, c.norm_eps, gemma_norm);
    at::Tensor gate_up = apply_linear(h, w.w_gate_up);  // [.., 2·d_ffn]
    at::Tensor mlp = apply_linear(gated_activation(gate_up, c.d_ffn, c.activation), w.w_down);  // [.., d_model]
    if (c.post_norms) mlp = rms_norm(mlp, w.post_ffn_norm, c.norm_eps, gemma_norm);
    if (real_rows.defined())
      mlp = at::zeros({B * T, c.d_model}, x.options()).index_copy_(0, real_rows, mlp).view({B, T, c.d_model});
    SITE(kMlpOut, l, mlp);
    x = x + mlp;
    SITE(kResidPost, l, x);
    if (stops_at(SiteKind::kResidPost, l)) break;
  }
  state.length += T;

  if (mode == LogitsMode::kNone) return {};
  if (mode == LogitsMode::kLast) x = x.narrow(1, T - 1, 1);
  x = rms_norm(x, weights_.final_norm, c.norm_eps, gemma_norm);
  SITE(kLnFinal, -1, x);
  at::Tensor logits = apply_linear(x, weights_.lm_head).to(at::kFloat);  // [B, T|1, vocab]
  if (c.final_softcap > 0) logits = at::tanh(logits / c.final_softcap) * c.final_softcap;
  return mode == LogitsMode::kLast ? logits.squeeze(1) : logits;
}

at::Tensor Model::attention(int l, const at::Tensor& h, BatchState& state, const at::Tensor& mask,
                            const at::Tensor& cos, const at::Tensor& sin, const HookSet* hooks,
                            const HookContext& ctx_in) const {
  const ModelConfig& c = config_;
  const LayerWeights& w = weights_.layers[l];
  HookContext ctx = ctx_in;
  const int64_t B = h.size(0), T = h.size(1), H = c.n_heads, Hkv = c.n_kv_heads, hd = c.head_dim;
  const int64_t G = H / Hkv;

  at::Tensor qkv = apply_linear(h, w.wqkv, w.bqkv);  // [B, T, (H + 2·Hkv)·hd]
  at::Tensor q = qkv.narrow(-1, 0, H * hd).view({B, T, H, hd});  // views: [B, T, heads, hd]
  at::Tensor k = qkv.narrow(-1, H * hd, Hkv * hd).view({B, T, Hkv, hd});
  at::Tensor v = qkv.narrow(-1, (H + Hkv) * hd, Hkv * hd).view({B, T, Hkv, hd});
  if (c.qk_norm) {
    q = rms_norm(q, w.q_norm, c.norm_eps, c.norm_plus_one);
    k = rms_norm(k, w.k_norm, c.norm_eps, c.norm_plus_one);
  }
  // Rotated queries into their own [B, H, T, hd] buffer; rotated keys and the values straight
  // into the cache when there is one.
  at::Tensor q_rot = at::empty({B, H, T, hd}, q.options());
  rope_into_dst(q, cos, sin, q_rot.transpose(1, 2));
  if (state.cached()) {  // append to the cache, attend over everything so far
    rope_into_dst(k, cos, sin, state.k[l].narrow(2, state.length, T).transpose(1, 2));
    state.v[l].narrow(2, state.length, T).copy_(v.transpose(1, 2));
    k = state.k[l].narrow(2, 0, state.length + T);  // [B, Hkv, S, hd]
    v = state.v[l].narrow(2, 0, state.length + T);
  } else {
    at::Tensor k_rot = at::empty({B, Hkv, T, hd}, k.options());
    rope_into_dst(k, cos, sin, k_rot.transpose(1, 2));
    k = k_rot;
    v = v.transpose(1, 2);  // [B, Hkv, T, hd], a view of qkv
  }
  const int64_t S = k.size(2);
  float scale = c.attn_scale > 0 ? c.attn_scale : 1.f / std::sqrt(float(hd));

  at::Tensor z;  // [B, T, H, hd]
  if (attention_f32_supported(q_rot) && !(hooks && hooks->active(SiteKind::kAttnPattern, l))) {
    z = attention_f32(q_rot, k, v, mask.squeeze(1), scale, c.attn_softcap);
  } else {
    // Grouped-query attention without copying keys: query heads of one group share a kv head
    // (HF repeat_kv: head h reads kv head h / G), so fold the group into the query rows.
    at::Tensor scores = at::matmul(q_rot.view({B, Hkv, G * T, hd}), k.transpose(-1, -2)) * scale;  // [B, Hkv, G·T, S]
    if (c.attn_softcap > 0) scores = at::tanh(scores / c.attn_softcap) * c.attn_softcap;
    scores = scores.view({B, Hkv, G, T, S}) + mask.unsqueeze(1);  // mask [B, 1, 1, T, S]
    at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type()).view({B, H, T, S});
    SITE(kAttnPattern, l, probs);  // [B, H, T, S]
    z = at::matmul(probs.view({B, Hkv, G * T, S}), v)  // [B, Hkv, G·T, hd]
            .view({B, H, T, hd})
            .transpose(1, 2);  // [B, T, H, hd]
  }
  SITE(kAttnZ, l, z);
  return apply_linear(z.reshape({B, T, H * hd}), w.wo, w.bo);  // [B, T, d_model]
}

#undef SITE

}  // namespace steer
