// Filling ModelConfig from GGUF metadata or an HF config.json, and the family registry:
// the one place that lists the architectures this build runs and what sets them apart.
#include "steer/config.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "steer/error.h"
#include "steer/gguf.h"

namespace steer {
namespace {

// Family traits: what an architecture implies beyond the numbers in its metadata.
struct Family {
  const char* arch;           // GGUF general.architecture
  const char* hf_model_type;  // config.json model_type
  Activation activation;
  bool qkv_bias, embed_scale, post_norms, norm_plus_one, qk_norm;
  int local_every;            // 0: no local layers; 2: gemma2 (even layers local); 6: gemma3 (5 of 6)
};
constexpr Family kFamilies[] = {
    {"llama", "llama", Activation::kSilu, false, false, false, false, false, 0},
    {"qwen2", "qwen2", Activation::kSilu, true, false, false, false, false, 0},
    {"gemma", "gemma", Activation::kGeluTanh, false, true, false, true, false, 0},
    {"gemma2", "gemma2", Activation::kGeluTanh, false, true, true, true, false, 2},
    {"gemma3", "gemma3_text", Activation::kGeluTanh, false, true, true, true, true, 6},
};

const Family& family_for(const std::string& arch, const std::string& where) {
  for (const auto& f : kFamilies)
    if (arch == f.arch || arch == f.hf_model_type) return f;
  std::string list;
  for (const auto& f : kFamilies) list += std::string(list.empty() ? "" : ", ") + f.arch;
  fail(where + ": unsupported architecture '" + arch + "'", "this build runs: " + list);
}

void apply_family(ModelConfig& c, const Family& f) {
  c.arch = f.arch;
  c.activation = f.activation;
  c.qkv_bias = f.qkv_bias;
  c.embed_scale = f.embed_scale;
  c.post_norms = f.post_norms;
  c.norm_plus_one = f.norm_plus_one;
  c.qk_norm = f.qk_norm;
}

// Which layers use the sliding window. gemma2: even layers (HF: not layer_idx % 2);
// gemma3: all but every 6th (HF: (layer_idx + 1) % 6 != 0).
std::vector<bool> local_pattern(int n_layers, int every) {
  std::vector<bool> local(n_layers, false);
  for (int l = 0; l < n_layers && every > 0; ++l)
    local[l] = every == 2 ? (l % 2 == 0) : ((l + 1) % every != 0);
  return local;
}

void validate(const ModelConfig& c, const std::string& where) {
  auto positive = [&](int v, const char* field) {
    if (v <= 0) fail(where + ": " + field + " is " + std::to_string(v) + ", expected > 0",
                     "the file's metadata is incomplete or corrupt");
  };
  positive(c.n_layers, "n_layers");
  positive(c.d_model, "d_model");
  positive(c.n_heads, "n_heads");
  positive(c.n_kv_heads, "n_kv_heads");
  positive(c.head_dim, "head_dim");
  positive(c.d_ffn, "d_ffn");
  positive(c.vocab_size, "vocab_size");
  if (c.n_heads % c.n_kv_heads != 0)
    fail(where + ": n_heads " + std::to_string(c.n_heads) + " is not a multiple of n_kv_heads " +
             std::to_string(c.n_kv_heads),
         "grouped-query attention needs whole groups");
}

}  // namespace

const std::vector<std::string>& supported_architectures() {
  static const std::vector<std::string> archs = [] {
    std::vector<std::string> v;
    for (const auto& f : kFamilies) v.push_back(f.arch);
    return v;
  }();
  return archs;
}

ModelConfig config_from_gguf(const GGUFFile& file) {
  const std::string where = file.path();
  std::string arch = file.get_string("general.architecture");
  const Family& fam = family_for(arch, where);
  ModelConfig c;
  apply_family(c, fam);
  auto key = [&](const std::string& k) { return arch + "." + k; };
  c.name = file.get_string("general.name", "");
  c.n_layers = int(file.get_int(key("block_count")));
  c.d_model = int(file.get_int(key("embedding_length")));
  c.n_heads = int(file.get_int(key("attention.head_count")));
  c.n_kv_heads = int(file.get_int(key("attention.head_count_kv"), c.n_heads));
  c.head_dim = int(file.get_int(key("attention.key_length"), c.n_heads ? c.d_model / c.n_heads : 0));
  c.d_ffn = int(file.get_int(key("feed_forward_length")));
  c.context_length = int(file.get_int(key("context_length"), 2048));
  c.norm_eps = float(file.get_float(key("attention.layer_norm_rms_epsilon"), 1e-5));
  c.rope_base = float(file.get_float(key("rope.freq_base"), 10000.0));
  if (file.has(key("vocab_size"))) c.vocab_size = int(file.get_int(key("vocab_size")));
  else if (file.has("tokenizer.ggml.tokens")) c.vocab_size = int(file.get("tokenizer.ggml.tokens").size());
  if (const GGUFTensorInfo* emb = file.find_tensor("token_embd.weight"))
    c.vocab_size = int(emb->ne.size() > 1 ? emb->ne[1] : c.vocab_size);
  c.tied_embeddings = file.find_tensor("output.weight") == nullptr;

  std::string scaling = file.get_string(key("rope.scaling.type"), "none");
  if (scaling == "linear") {
    c.rope_scaling = RopeScaling::kLinear;
    c.rope_factor = float(file.get_float(key("rope.scaling.factor"), 1.0));
  } else if (scaling != "none" && scaling != "") {
    // llama3-style scaling is stored by llama.cpp as the rope_freqs.weight tensor, read at load.
    fail(where + ": rope scaling '" + scaling + "' is not supported", "supported: none, linear");
  }
  if (fam.local_every > 0) {
    c.sliding_window = int(file.get_int(key("attention.sliding_window"), 4096));
    c.layer_is_local = local_pattern(c.n_layers, fam.local_every);
  }
  if (arch == "gemma2") {
    c.attn_softcap = float(file.get_float(key("attn_logit_softcapping"), 50.0));
    c.final_softcap = float(file.get_float(key("final_logit_softcapping"), 30.0));
  }
  if (arch == "gemma3") c.rope_base_local = 10000.f;  // llama.cpp and HF: fixed for local layers
  // Gemma scales queries by query_pre_attn_scalar^-0.5, which GGUF does not store; it equals
  // head_dim except for the 27B models (d_model / n_heads), as llama.cpp assumes too.
  if (arch == "gemma2" || arch == "gemma3") {
    bool is_27b = (arch == "gemma2" && c.n_layers == 46) || (arch == "gemma3" && c.n_layers == 62);
    c.attn_scale = 1.f / std::sqrt(float(is_27b ? c.d_model / c.n_heads : c.head_dim));
  }
  validate(c, where);
  return c;
}

ModelConfig config_from_hf(const nlohmann::json& j0, const std::string& where) {
  // Multimodal gemma3 checkpoints nest the language model's config under text_config.
  const nlohmann::json& j = j0.contains("text_config") ? j0["text_config"] : j0;
  std::string model_type = j.value("model_type", j0.value("model_type", ""));
  if (model_type == "gemma3") model_type = "gemma3_text";
  const Family& fam = family_for(model_type, where);
  ModelConfig c;
  apply_family(c, fam);
  auto need_int = [&](const char* field) -> int {
    if (!j.contains(field) || !j[field].is_number_integer())
      fail(where + ": config.json has no integer field '" + field + "'",
           "is this a Hugging Face causal-LM config?");
    return j[field].get<int>();
  };
  c.name = j0.value("_name_or_path", "");
  c.n_layers = need_int("num_hidden_layers");
  c.d_model = need_int("hidden_size");
  c.n_heads = need_int("num_attention_heads");
  c.n_kv_heads = j.value("num_key_value_heads", c.n_heads);
  c.head_dim = (j.contains("head_dim") && j["head_dim"].is_number_integer()) ? j["head_dim"].get<int>()
                                                                               : c.d_model / c.n_heads;
  c.d_ffn = need_int("intermediate_size");
  c.vocab_size = need_int("vocab_size");
  c.context_length = j.value("max_position_embeddings", 2048);
  c.norm_eps = j.value("rms_norm_eps", 1e-5f);
  c.tied_embeddings = j.value("tie_word_embeddings", j0.value("tie_word_embeddings", fam.embed_scale));
  if (j.value("attention_bias", false)) c.qkv_bias = c.o_bias = true;
  if (model_type == "qwen2") c.o_bias = false;

  // Rope: transformers < 5 writes rope_theta / rope_scaling; 5.x writes rope_parameters, per
  // attention type for gemma3.
  nlohmann::json rope = j.value("rope_parameters", nlohmann::json::object());
  nlohmann::json rope_global = rope.contains("full_attention") ? rope["full_attention"] : rope;
  nlohmann::json rope_local = rope.value("sliding_attention", nlohmann::json::object());
  nlohmann::json scaling = j.value("rope_scaling", nlohmann::json());
  if (scaling.is_null() && rope_global.contains("rope_type")) scaling = rope_global;
  c.rope_base = j.value("rope_theta", rope_global.value("rope_theta", 10000.f));
  if (model_type == "gemma3_text")
    c.rope_base_local = j.value("rope_local_base_freq", rope_local.value("rope_theta", 10000.f));
  if (scaling.is_object()) {
    std::string type = scaling.value("rope_type", scaling.value("type", "default"));
    if (type == "linear") {
      c.rope_scaling = RopeScaling::kLinear;
      c.rope_factor = scaling.value("factor", 1.f);
    } else if (type == "llama3") {
      c.rope_scaling = RopeScaling::kLlama3;
      c.rope_factor = scaling.value("factor", 8.f);
      c.rope_low_freq_factor = scaling.value("low_freq_factor", 1.f);
      c.rope_high_freq_factor = scaling.value("high_freq_factor", 4.f);
      c.rope_original_context = scaling.value("original_max_position_embeddings", 8192);
    } else if (type != "default") {
      fail(where + ": rope scaling '" + type + "' is not supported", "supported: default, linear, llama3");
    }
  }
  if (fam.local_every > 0) {
    c.sliding_window = j.value("sliding_window", 4096);
    c.layer_is_local = local_pattern(c.n_layers, fam.local_every);
    if (j.contains("layer_types") && j["layer_types"].is_array()) {
      c.layer_is_local.clear();
      for (const auto& t : j["layer_types"]) c.layer_is_local.push_back(t == "sliding_attention");
    }
  }
  if (model_type == "gemma2") {
    c.attn_softcap = j.value("attn_logit_softcapping", 0.f);
    c.final_softcap = j.value("final_logit_softcapping", 0.f);
  }
  if (model_type == "gemma2" || model_type == "gemma3_text" || model_type == "gemma")
    if (j.contains("query_pre_attn_scalar") && j["query_pre_attn_scalar"].is_number())
      c.attn_scale = 1.f / std::sqrt(j["query_pre_attn_scalar"].get<float>());
  if (c.attn_scale == 1.f / std::sqrt(float(c.head_dim))) c.attn_scale = 0.f;
  validate(c, where);
  return c;
}

std::string ModelConfig::describe() const {
  std::ostringstream s;
  s << arch << ": " << n_layers << " layers, d_model " << d_model << ", heads " << n_heads << "/"
    << n_kv_heads << " (head_dim " << head_dim << "), ffn " << d_ffn << ", vocab " << vocab_size;
  return s.str();
}

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json j = {{"arch", arch},          {"name", name},
                      {"n_layers", n_layers},  {"d_model", d_model},
                      {"n_heads", n_heads},    {"n_kv_heads", n_kv_heads},
                      {"head_dim", head_dim},  {"d_ffn", d_ffn},
                      {"vocab_size", vocab_size}, {"context_length", context_length},
                      {"norm_eps", norm_eps},  {"rope_base", rope_base},
                      {"tied_embeddings", tied_embeddings}};
  if (sliding_window) j["sliding_window"] = sliding_window;
  if (rope_base_local) j["rope_base_local"] = rope_base_local;
  return j;
}

bool operator==(const ModelConfig& a, const ModelConfig& b) {
  auto eqf = [](float x, float y) { return std::fabs(x - y) <= 1e-6f * std::max(1.f, std::fabs(x)); };
  float sa = a.attn_scale == 0.f ? 1.f / std::sqrt(float(a.head_dim)) : a.attn_scale;
  float sb = b.attn_scale == 0.f ? 1.f / std::sqrt(float(b.head_dim)) : b.attn_scale;
  return a.arch == b.arch && a.n_layers == b.n_layers && a.d_model == b.d_model &&
         a.n_heads == b.n_heads && a.n_kv_heads == b.n_kv_heads && a.head_dim == b.head_dim &&
         a.d_ffn == b.d_ffn && a.vocab_size == b.vocab_size && eqf(a.norm_eps, b.norm_eps) &&
         a.activation == b.activation && a.qkv_bias == b.qkv_bias && a.qk_norm == b.qk_norm &&
         eqf(sa, sb) && eqf(a.attn_softcap, b.attn_softcap) && a.sliding_window == b.sliding_window &&
         a.layer_is_local == b.layer_is_local && eqf(a.rope_base, b.rope_base) &&
         eqf(a.rope_base_local, b.rope_base_local) && a.rope_scaling == b.rope_scaling &&
         eqf(a.rope_factor, b.rope_factor) && a.embed_scale == b.embed_scale &&
         a.post_norms == b.post_norms && a.norm_plus_one == b.norm_plus_one &&
         a.tied_embeddings == b.tied_embeddings && eqf(a.final_softcap, b.final_softcap);
}

}  // namespace steer
