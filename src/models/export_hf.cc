#include "models/export_hf.h"

#include <ATen/ATen.h>

#include "io/tensor_names.h"
#include "steer/model.h"
#include "steer/safetensors.h"

namespace steer {

void save_hf_weights(const Model& model, const std::string& path) {
  const ModelConfig& c = model.config();
  const ModelWeights& w = model.weights();
  SafetensorsWriter out;
  std::vector<at::Tensor> keep;  // the writer borrows the bytes until write()
  auto add = [&](TensorRole role, int layer, at::Tensor t) {
    if (!t.defined()) return;
    bool norm = role == TensorRole::kAttnNorm || role == TensorRole::kFfnNorm || role == TensorRole::kPostAttnNorm ||
                role == TensorRole::kPostFfnNorm || role == TensorRole::kFinalNorm || role == TensorRole::kQNorm ||
                role == TensorRole::kKNorm;
    t = t.to(at::kFloat);
    if (norm && c.norm_plus_one) t = t - 1.0f;
    t = t.contiguous();
    keep.push_back(t);
    out.add_tensor_view(hf_tensor_name(role, layer, c.post_norms), SafetensorsDType::F32, t.sizes().vec(), t.data_ptr());
  };
  const int64_t H = c.n_heads * c.head_dim, K = c.n_kv_heads * c.head_dim;
  add(TensorRole::kEmbed, -1, w.embed);
  add(TensorRole::kFinalNorm, -1, w.final_norm);
  if (!c.tied_embeddings) add(TensorRole::kLmHead, -1, w.lm_head);
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = w.layers[l];
    add(TensorRole::kAttnNorm, l, L.attn_norm);
    add(TensorRole::kQ, l, L.wqkv.narrow(0, 0, H));
    add(TensorRole::kK, l, L.wqkv.narrow(0, H, K));
    add(TensorRole::kV, l, L.wqkv.narrow(0, H + K, K));
    if (L.bqkv.defined()) {
      add(TensorRole::kQBias, l, L.bqkv.narrow(0, 0, H));
      add(TensorRole::kKBias, l, L.bqkv.narrow(0, H, K));
      add(TensorRole::kVBias, l, L.bqkv.narrow(0, H + K, K));
    }
    add(TensorRole::kQNorm, l, L.q_norm);
    add(TensorRole::kKNorm, l, L.k_norm);
    add(TensorRole::kO, l, L.wo);
    add(TensorRole::kOBias, l, L.bo);
    add(TensorRole::kPostAttnNorm, l, L.post_attn_norm);
    add(TensorRole::kFfnNorm, l, L.ffn_norm);
    add(TensorRole::kGate, l, L.w_gate_up.narrow(0, 0, c.d_ffn));
    add(TensorRole::kUp, l, L.w_gate_up.narrow(0, c.d_ffn, c.d_ffn));
    add(TensorRole::kDown, l, L.w_down);
    add(TensorRole::kPostFfnNorm, l, L.post_ffn_norm);
  }
  out.set_metadata("format", "pt");
  out.write(path);
}

}  // namespace steer
