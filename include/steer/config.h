// ModelConfig: the one plain struct that drives every difference between model families.
// Filled from GGUF metadata (config_from_gguf) or a Hugging Face config.json
// (config_from_hf); for the same model both give equal structs (tested). Every field is checked
// before it is used (type, range, what it must divide), so a corrupt or hostile file is a
// steer::Error naming the file and the field, never a crash or a huge allocation.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace steer {

class GGUFFile;

enum class Activation { kSilu, kGeluTanh };
enum class RopeScaling { kNone, kLinear, kLlama3 };

struct ModelConfig {
  std::string arch;        // GGUF general.architecture: llama, qwen2, gemma, gemma2, gemma3
  std::string name;        // general.name or HF _name_or_path, for display
  int n_layers = 0;        // transformer blocks
  int d_model = 0;         // residual stream width (hidden_size)
  int n_heads = 0;         // query heads
  int n_kv_heads = 0;      // key/value heads (GQA when < n_heads)
  int head_dim = 0;        // per-head width (gemma: from config, not d_model / n_heads)
  int d_ffn = 0;           // MLP hidden width (intermediate_size)
  int vocab_size = 0;
  int context_length = 0;  // trained context (max_position_embeddings)
  float norm_eps = 1e-5f;  // RMSNorm epsilon
  Activation activation = Activation::kSilu;  // gated MLP: act(gate) * up

  // Attention
  bool qkv_bias = false;          // qwen2: biases on q, k, v
  bool o_bias = false;            // bias on the output projection
  bool qk_norm = false;           // gemma3: RMSNorm on each query/key head
  float attn_scale = 0.f;         // multiplies q·k; 0 → 1/sqrt(head_dim)
  float attn_softcap = 0.f;       // gemma2: tanh soft-cap on attention logits (0 = off)
  int sliding_window = 0;         // local layers see keys with q_pos - k_pos < window (0 = off)
  std::vector<bool> layer_is_local;  // per layer: uses the sliding window (+ local rope base)

  // Rotary embedding (NeoX / rotate_half layout; llama GGUF Q/K are un-permuted at load)
  float rope_base = 10000.f;      // global layers
  float rope_base_local = 0.f;    // gemma3 local layers (0 → rope_base)
  RopeScaling rope_scaling = RopeScaling::kNone;
  float rope_factor = 1.f;        // linear / llama3 factor
  float rope_low_freq_factor = 1.f, rope_high_freq_factor = 4.f;  // llama3
  int rope_original_context = 8192;                                 // llama3

  // Norms and embeddings
  bool embed_scale = false;       // gemma: embeddings × sqrt(d_model)
  bool post_norms = false;        // gemma2/3: norms after attention and after the MLP
  bool norm_plus_one = false;     // gemma: HF weights are w, applied as (1 + w). Our loaded
                                  // weights are always the effective multiplier (GGUF stores w+1).
  bool tied_embeddings = false;   // LM head is the token embedding
  float final_softcap = 0.f;      // gemma2: tanh soft-cap on the logits (0 = off)

  bool is_local(int layer) const {
    return layer < static_cast<int>(layer_is_local.size()) && layer_is_local[layer];
  }
  std::string describe() const;  // one line: arch, sizes
  nlohmann::json to_json() const;
};

ModelConfig config_from_gguf(const GGUFFile& file);
ModelConfig config_from_hf(const nlohmann::json& config_json, const std::string& path_for_errors);
// DIR/config.json read (a regular file of bounded size) and passed to config_from_hf.
ModelConfig config_from_hf_dir(const std::string& dir);

bool operator==(const ModelConfig& a, const ModelConfig& b);

// The families this build knows (registry order); an unknown arch is a steer::Error listing them.
const std::vector<std::string>& supported_architectures();

}  // namespace steer
