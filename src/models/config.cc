// Filling ModelConfig from GGUF metadata or an HF config.json, and the family registry:
// the one place that lists the architectures this build runs and what sets them apart.
#include "steer/config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "io/read_file.h"
#include "steer/error.h"
#include "steer/json_text.h"
#include "steer/sites.h"
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

// Bounds on the numbers a config gives: far above any model in use, low enough that no product
// of them (a tensor shape, a cache) overflows or asks for absurd memory before the tensors are
// checked against them.
constexpr int64_t kMaxWidth = 1 << 18;         // d_model, d_ffn
constexpr int64_t kMaxHeads = 1 << 12;         // n_heads, n_kv_heads, head_dim
constexpr int64_t kMaxVocab = 1 << 24;         // vocab_size
constexpr int64_t kMaxContext = 1 << 24;       // context_length, sliding_window

[[noreturn]] void bad_field(const std::string& where, const std::string& field, const std::string& why) {
  fail(where + ": field '" + field + "' " + why, "the file's config is corrupt or not a supported model");
}

int in_range(int64_t v, int64_t lo, int64_t hi, const std::string& where, const std::string& field) {
  if (v < lo || v > hi)
    bad_field(where, field, "is " + std::to_string(v) + ", expected " + std::to_string(lo) + ".." + std::to_string(hi));
  return int(v);
}

float finite_at_least(double v, double lo, const std::string& where, const std::string& field, bool strict) {
  if (!std::isfinite(v) || (strict ? v <= lo : v < lo))
    bad_field(where, field, "is " + std::to_string(v) + ", expected a finite number " + (strict ? "> " : "≥ ") +
                                std::to_string(lo));
  return float(v);
}

// What no single field's range says: how the fields fit together.
void validate(const ModelConfig& c, const std::string& where) {
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) fail(where + ": " + what, "the file's config is corrupt or not a supported model");
  };
  check(c.n_heads % c.n_kv_heads == 0, "n_heads " + std::to_string(c.n_heads) + " is not a multiple of n_kv_heads " +
                                           std::to_string(c.n_kv_heads) + " (grouped-query attention needs whole groups)");
  check(c.head_dim % 2 == 0, "head_dim " + std::to_string(c.head_dim) + " is odd (rotary embeddings rotate pairs)");
  check(c.layer_is_local.empty() || int(c.layer_is_local.size()) == c.n_layers,
        "the layer types list " + std::to_string(c.layer_is_local.size()) + " layers, the model has " +
            std::to_string(c.n_layers));
  if (c.rope_scaling == RopeScaling::kLlama3)
    check(c.rope_high_freq_factor != c.rope_low_freq_factor && c.rope_original_context > 0,
          "llama3 rope scaling needs high_freq_factor ≠ low_freq_factor and original_max_position_embeddings > 0");
}

// config.json fields, their JSON types checked: null counts as absent (transformers writes
// "rope_scaling": null), any other wrong type is an error naming the file and field.
class JsonFields {
 public:
  JsonFields(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {}

  const nlohmann::json* find(const std::string& f) const {
    if (!j_.is_object()) return nullptr;
    auto it = j_.find(f);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  int64_t integer(const std::string& f, std::optional<int64_t> fallback, int64_t lo, int64_t hi) const {
    const nlohmann::json* v = find(f);
    if (!v) {
      if (!fallback) bad_field(where_, f, "is missing (is this a Hugging Face causal-LM config?)");
      return *fallback;
    }
    if (v->is_number_integer()) return in_range(v->get<int64_t>(), lo, hi, where_, f);
    if (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>() &&
        std::fabs(v->get<double>()) < 9e15)
      return in_range(int64_t(v->get<double>()), lo, hi, where_, f);
    bad_field(where_, f, "is " + json_type(*v) + ", expected an integer");
  }
  double number(const std::string& f, double fallback) const {
    const nlohmann::json* v = find(f);
    if (!v) return fallback;
    if (!v->is_number()) bad_field(where_, f, "is " + json_type(*v) + ", expected a number");
    return v->get<double>();
  }
  bool boolean(const std::string& f, bool fallback) const {
    const nlohmann::json* v = find(f);
    if (!v) return fallback;
    if (!v->is_boolean()) bad_field(where_, f, "is " + json_type(*v) + ", expected true or false");
    return v->get<bool>();
  }
  std::string string(const std::string& f, const std::string& fallback) const {
    const nlohmann::json* v = find(f);
    if (!v) return fallback;
    if (!v->is_string()) bad_field(where_, f, "is " + json_type(*v) + ", expected a string");
    return v->get<std::string>();
  }
  // An object field, or an empty object when absent.
  JsonFields object(const std::string& f) const {
    static const nlohmann::json kEmpty = nlohmann::json::object();
    const nlohmann::json* v = find(f);
    if (!v) return {kEmpty, where_};
    if (!v->is_object()) bad_field(where_, f, "is " + json_type(*v) + ", expected an object");
    return {*v, where_};
  }
  bool has(const std::string& f) const { return find(f) != nullptr; }

 private:
  static std::string json_type(const nlohmann::json& v) {
    if (v.is_string()) return "a string";
    if (v.is_boolean()) return "a boolean";
    if (v.is_array()) return "a list";
    if (v.is_object()) return "an object";
    if (v.is_number_float()) return "the number " + json_text(v);
    return "a " + std::string(v.type_name());
  }
  const nlohmann::json& j_;
  std::string where_;
};

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
  // Each number is range-checked as it is read, so what is derived from it below is safe.
  auto int_key = [&](const std::string& k, std::optional<int64_t> fallback, int64_t lo, int64_t hi) {
    const std::string full = key(k);
    if (!file.has(full) && !fallback) bad_field(where, full, "is missing");
    return in_range(file.has(full) ? file.get_int(full) : *fallback, lo, hi, where, full);
  };
  auto float_key = [&](const std::string& k, double fallback, double lo, bool strict) {
    return finite_at_least(file.get_float(key(k), fallback), lo, where, key(k), strict);
  };
  c.name = file.get_string("general.name", "");
  c.n_layers = int_key("block_count", {}, 1, kMaxModelLayers);
  c.d_model = int_key("embedding_length", {}, 1, kMaxWidth);
  c.n_heads = int_key("attention.head_count", {}, 1, kMaxHeads);
  c.n_kv_heads = int_key("attention.head_count_kv", c.n_heads, 1, c.n_heads);
  c.head_dim = int_key("attention.key_length", std::max(1, c.d_model / c.n_heads), 1, kMaxHeads);
  c.d_ffn = int_key("feed_forward_length", {}, 1, kMaxWidth);
  c.context_length = int_key("context_length", 2048, 1, kMaxContext);
  c.norm_eps = float_key("attention.layer_norm_rms_epsilon", 1e-5, 0.0, false);
  c.rope_base = float_key("rope.freq_base", 10000.0, 0.0, true);
  if (file.has(key("vocab_size"))) c.vocab_size = int_key("vocab_size", {}, 1, kMaxVocab);
  else if (file.has("tokenizer.ggml.tokens"))
    c.vocab_size = in_range(int64_t(file.get("tokenizer.ggml.tokens").size()), 1, kMaxVocab, where, "tokenizer.ggml.tokens");
  if (const GGUFTensorInfo* emb = file.find_tensor("token_embd.weight"))
    if (emb->ne.size() > 1) c.vocab_size = in_range(emb->ne[1], 1, kMaxVocab, where, "token_embd.weight rows");
  if (c.vocab_size == 0) bad_field(where, key("vocab_size"), "is missing (and there is no tokenizer.ggml.tokens)");
  c.tied_embeddings = file.find_tensor("output.weight") == nullptr;

  std::string scaling = file.get_string(key("rope.scaling.type"), "none");
  if (scaling == "linear") {
    c.rope_scaling = RopeScaling::kLinear;
    c.rope_factor = float_key("rope.scaling.factor", 1.0, 0.0, true);
  } else if (scaling != "none" && scaling != "") {
    // llama3-style scaling is stored by llama.cpp as the rope_freqs.weight tensor, read at load.
    fail(where + ": rope scaling '" + scaling + "' is not supported", "supported: none, linear");
  }
  if (fam.local_every > 0) {
    c.sliding_window = int_key("attention.sliding_window", 4096, 0, kMaxContext);
    c.layer_is_local = local_pattern(c.n_layers, fam.local_every);
  }
  if (arch == "gemma2") {
    c.attn_softcap = float_key("attn_logit_softcapping", 50.0, 0.0, false);
    c.final_softcap = float_key("final_logit_softcapping", 30.0, 0.0, false);
  }
  if (arch == "gemma3") c.rope_base_local = 10000.f;  // llama.cpp and HF: fixed for local layers
  // Gemma scales queries by query_pre_attn_scalar^-0.5, which GGUF does not store; it equals
  // head_dim except for the 27B models (d_model / n_heads), as llama.cpp assumes too.
  if (arch == "gemma2" || arch == "gemma3") {
    bool is_27b = (arch == "gemma2" && c.n_layers == 46) || (arch == "gemma3" && c.n_layers == 62);
    c.attn_scale = 1.f / std::sqrt(float(is_27b ? std::max(1, c.d_model / c.n_heads) : c.head_dim));
  }
  validate(c, where);
  return c;
}

ModelConfig config_from_hf(const nlohmann::json& j0, const std::string& where) {
  if (!j0.is_object()) fail(where + ": expected a JSON object", "a Hugging Face config.json is one JSON object");
  const JsonFields root(j0, where);
  // Multimodal gemma3 checkpoints nest the language model's config under text_config.
  const JsonFields j = root.has("text_config") ? root.object("text_config") : root;
  std::string model_type = j.string("model_type", root.string("model_type", ""));
  if (model_type == "gemma3") model_type = "gemma3_text";
  const Family& fam = family_for(model_type, where);
  ModelConfig c;
  apply_family(c, fam);
  // Each number is range-checked as it is read, so what is derived from it below is safe.
  c.name = root.string("_name_or_path", "");
  c.n_layers = int(j.integer("num_hidden_layers", {}, 1, kMaxModelLayers));
  c.d_model = int(j.integer("hidden_size", {}, 1, kMaxWidth));
  c.n_heads = int(j.integer("num_attention_heads", {}, 1, kMaxHeads));
  c.n_kv_heads = int(j.integer("num_key_value_heads", c.n_heads, 1, c.n_heads));
  c.head_dim = int(j.integer("head_dim", std::max(1, c.d_model / c.n_heads), 1, kMaxHeads));
  c.d_ffn = int(j.integer("intermediate_size", {}, 1, kMaxWidth));
  c.vocab_size = int(j.integer("vocab_size", {}, 1, kMaxVocab));
  c.context_length = int(j.integer("max_position_embeddings", 2048, 1, kMaxContext));
  c.norm_eps = finite_at_least(j.number("rms_norm_eps", 1e-5), 0.0, where, "rms_norm_eps", false);
  c.tied_embeddings = j.boolean("tie_word_embeddings", root.boolean("tie_word_embeddings", fam.embed_scale));
  if (j.boolean("attention_bias", false)) c.qkv_bias = c.o_bias = true;
  if (model_type == "qwen2") c.o_bias = false;

  // Rope: transformers < 5 writes rope_theta / rope_scaling; 5.x writes rope_parameters, per
  // attention type for gemma3.
  const JsonFields rope = j.object("rope_parameters");
  const JsonFields rope_global = rope.has("full_attention") ? rope.object("full_attention") : rope;
  const JsonFields rope_local = rope.object("sliding_attention");
  const bool scaled = j.has("rope_scaling") || rope_global.has("rope_type");
  const JsonFields scaling = j.has("rope_scaling") ? j.object("rope_scaling") : rope_global;
  auto positive = [&](const JsonFields& f, const char* field, double fallback) {
    return finite_at_least(f.number(field, fallback), 0.0, where, field, true);
  };
  c.rope_base = j.has("rope_theta") ? positive(j, "rope_theta", 0) : positive(rope_global, "rope_theta", 10000.0);
  if (model_type == "gemma3_text")
    c.rope_base_local = j.has("rope_local_base_freq") ? positive(j, "rope_local_base_freq", 0)
                                                      : positive(rope_local, "rope_theta", 10000.0);
  if (scaled) {
    std::string type = scaling.string("rope_type", scaling.string("type", "default"));
    if (type == "linear") {
      c.rope_scaling = RopeScaling::kLinear;
      c.rope_factor = positive(scaling, "factor", 1.0);
    } else if (type == "llama3") {
      c.rope_scaling = RopeScaling::kLlama3;
      c.rope_factor = positive(scaling, "factor", 8.0);
      c.rope_low_freq_factor = positive(scaling, "low_freq_factor", 1.0);
      c.rope_high_freq_factor = positive(scaling, "high_freq_factor", 4.0);
      c.rope_original_context = int(scaling.integer("original_max_position_embeddings", 8192, 1, kMaxContext));
    } else if (type != "default") {
      fail(where + ": rope scaling '" + type + "' is not supported", "supported: default, linear, llama3");
    }
  }
  if (fam.local_every > 0) {
    c.sliding_window = int(j.integer("sliding_window", 4096, 0, kMaxContext));
    c.layer_is_local = local_pattern(c.n_layers, fam.local_every);
    if (const nlohmann::json* types = j.find("layer_types")) {
      if (!types->is_array()) bad_field(where, "layer_types", "is not a list");
      if (int64_t(types->size()) != c.n_layers)
        bad_field(where, "layer_types", "lists " + std::to_string(types->size()) + " layers, num_hidden_layers is " +
                                            std::to_string(c.n_layers));
      c.layer_is_local.clear();
      for (const auto& t : *types) {
        if (!t.is_string()) bad_field(where, "layer_types", "holds a value that is not a string");
        c.layer_is_local.push_back(t == "sliding_attention");
      }
    }
  }
  if (model_type == "gemma2") {
    c.attn_softcap = finite_at_least(j.number("attn_logit_softcapping", 0.0), 0.0, where, "attn_logit_softcapping", false);
    c.final_softcap =
        finite_at_least(j.number("final_logit_softcapping", 0.0), 0.0, where, "final_logit_softcapping", false);
  }
  if (model_type == "gemma2" || model_type == "gemma3_text" || model_type == "gemma")
    if (j.has("query_pre_attn_scalar"))
      c.attn_scale = 1.f / std::sqrt(positive(j, "query_pre_attn_scalar", 0));
  if (c.attn_scale == 1.f / std::sqrt(float(c.head_dim))) c.attn_scale = 0.f;
  validate(c, where);
  return c;
}

ModelConfig config_from_hf_dir(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  if (!std::filesystem::exists(path))
    fail(dir + " is a directory without config.json",
         "a Hugging Face model directory has config.json, tokenizer.json and *.safetensors");
  return config_from_hf(read_json_file(path, "model config", size_t(1) << 20), path);
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
