// Direction-set files: safetensors (our own, self-describing) and llama.cpp control-vector
// GGUF (read and written to the letter of llama.cpp's loader, common_control_vector_load_one).
//
// Safetensors: one F32 [d_model] tensor per layer named by its hook site
// ("blocks.14.hook_resid_pre"); metadata "steer" = the whole DirectionMeta as JSON (see
// direction_meta.h) plus flat string keys (model, site, layers, ...) for tools that only show
// flat metadata. A file from elsewhere may have only the tensors: names "blocks.N.<site>" or a
// bare layer number "N" (then site hook_resid_post).
//
// Control-vector GGUF, as llama.cpp reads it:
//   general.architecture = "controlvector"   (a file without it is read; any other value is refused)
//   controlvector.model_hint  string          (repeng: model_type; cvector-generator: the model's arch)
//   controlvector.layer_count integer         (the number of direction tensors; cvector-generator
//                                              writes INT32, repeng UINT32 — both read; we write INT32)
//   direction.N  F32, 1-D [n_embd], N ≥ 1     added to the output of block N (llama.cpp stores it at
//                                              offset n_embd·(N−1) and block il reads offset
//                                              n_embd·(il−1), so N is the 0-based block index)
// Every tensor must be a direction.N (llama.cpp refuses anything else), so a file that loads
// here loads there. We add steer.kind, steer.site and steer.meta (ignored by llama.cpp and
// repeng): steer.site = hook_resid_pre means direction.N holds the resid_pre vector of layer
// N+1 (the same place in the model), so a resid_pre set round-trips with its own layer numbers.
#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "io/read_file.h"
#include "steer/json_text.h"
#include "steer/error.h"
#include "steer/config.h"
#include "steer/gguf.h"
#include "steer/gguf_writer.h"
#include "steer/safetensors.h"
#include "steer/direction_meta.h"

namespace steer {

// ---------------------------------------------------------------------------------------------
// Metadata JSON

void check_direction_kind(const std::string& kind, const std::string& source) {
  if (kind != "addition" && kind != "ablation")
    fail(source + ": direction kind '" + kind + "' is not known", "kind is \"addition\" or \"ablation\"");
}

nlohmann::json direction_meta_to_json(const DirectionMeta& m) {
  nlohmann::json datasets = nlohmann::json::object();
  for (const auto& [name, sha] : m.datasets) datasets[name] = sha;
  return {{"model", m.model},           {"model_arch", m.model_arch}, {"n_layers", m.n_layers},
          {"d_model", m.d_model},       {"site", site_kind_name(m.site)}, {"method", m.method},
          {"kind", m.kind},             {"positions", m.positions},   {"datasets", datasets},
          {"version", m.version},       {"extra", m.extra}};
}

DirectionMeta direction_meta_from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) fail(source + ": direction metadata is not a JSON object");
  DirectionMeta m;
  auto str = [&](const char* key, std::string& out) {
    if (!j.contains(key)) return;
    if (!j[key].is_string()) fail(source + ": metadata field '" + key + "' must be a string");
    out = j[key].get<std::string>();
  };
  auto integer = [&](const char* key, int& out) {
    if (!j.contains(key)) return;
    if (!j[key].is_number_integer() || j[key].get<int64_t>() < 0)
      fail(source + ": metadata field '" + key + "' must be an integer ≥ 0");
    out = j[key].get<int>();
  };
  str("model", m.model);
  str("model_arch", m.model_arch);
  integer("n_layers", m.n_layers);
  integer("d_model", m.d_model);
  std::string site;
  str("site", site);
  if (!site.empty()) {
    try {
      m.site = parse_site_kind(site);
    } catch (const Error& e) {
      fail(source + ": metadata field 'site': " + e.what(), e.hint());
    }
  }
  str("method", m.method);
  str("kind", m.kind);
  check_direction_kind(m.kind, source);
  if (j.contains("positions")) {
    if (!j["positions"].is_array()) fail(source + ": metadata field 'positions' must be a list of integers");
    for (const auto& p : j["positions"]) {
      if (!p.is_number_integer()) fail(source + ": metadata field 'positions' must be a list of integers");
      m.positions.push_back(p.get<int64_t>());
    }
  }
  if (j.contains("datasets")) {
    if (!j["datasets"].is_object()) fail(source + ": metadata field 'datasets' must be an object name → sha256");
    for (const auto& [k, v] : j["datasets"].items()) {
      if (!v.is_string()) fail(source + ": metadata field 'datasets." + k + "' must be a string");
      m.datasets[k] = v.get<std::string>();
    }
  }
  str("version", m.version);
  if (j.contains("extra")) m.extra = j["extra"];
  return m;
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

enum class VectorFormat { kSafetensors, kGGUF };

VectorFormat format_of(const std::string& path, const char* verb) {
  std::string p = lower(path);
  if (ends_with(p, ".safetensors")) return VectorFormat::kSafetensors;
  if (ends_with(p, ".gguf")) return VectorFormat::kGGUF;
  fail(std::string("cannot ") + verb + " direction file '" + path + "': unknown extension",
       "use .safetensors (steer's own format) or .gguf (llama.cpp control vector)");
}

std::string join_ints(const std::vector<int64_t>& v) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
  return s.str();
}

// Parses the digits of "N"; -1 if `s` is not a plain non-negative decimal number.
long parse_index(const std::string& s) {
  if (s.empty() || s.size() > 9) return -1;
  for (char c : s)
    if (c < '0' || c > '9') return -1;
  return std::stol(s);
}

std::vector<uint8_t> f32_bytes(const at::Tensor& v) {
  std::vector<uint8_t> bytes(v.numel() * sizeof(float));
  std::memcpy(bytes.data(), v.data_ptr<float>(), bytes.size());
  return bytes;
}

at::Tensor f32_tensor(const void* data, int64_t n) {
  at::Tensor t = at::empty({n}, at::kFloat);
  std::memcpy(t.data_ptr<float>(), data, n * sizeof(float));
  return t;
}

// ---------------------------------------------------------------------------------------------
// safetensors

void save_safetensors(const DirectionSet& set, const std::string& path) {
  const DirectionMeta& m = set.meta();
  SafetensorsWriter w;
  std::vector<int64_t> layers;
  for (const auto& [layer, v] : set.vectors()) {
    w.add_tensor(site_name({m.site, layer}), SafetensorsDType::F32, {v.size(0)}, f32_bytes(v));
    layers.push_back(layer);
  }
  w.set_metadata("steer", json_text(direction_meta_to_json(m)));
  w.set_metadata("format", "steer.directions");
  w.set_metadata("model", m.model);
  w.set_metadata("model_arch", m.model_arch);
  w.set_metadata("n_layers", std::to_string(m.n_layers));
  w.set_metadata("d_model", std::to_string(m.d_model));
  w.set_metadata("site", site_kind_name(m.site));
  w.set_metadata("layers", join_ints(layers));
  w.set_metadata("positions", join_ints(m.positions));
  w.set_metadata("method", m.method);
  w.set_metadata("kind", m.kind);
  w.set_metadata("version", m.version);
  w.write(path);
}

DirectionSet load_safetensors(const std::string& path) {
  auto file = SafetensorsFile::open(path);
  if (file->metadata().count("steer.activations"))
    fail(path + " holds captured activations, not direction vectors",
         "it was written by `steer capture`; make vectors from prompts with `steer extract`");
  DirectionMeta meta;
  bool site_known = false;
  auto it = file->metadata().find("steer");
  if (it != file->metadata().end()) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(it->second);
    } catch (const std::exception& e) {
      fail(path + ": metadata 'steer' is not valid JSON: " + json_error_text(e));
    }
    meta = direction_meta_from_json(j, path);
    site_known = true;
  } else {
    meta.method = "unknown";
    auto kind = file->metadata().find("kind");
    if (kind != file->metadata().end()) {
      check_direction_kind(kind->second, path);
      meta.kind = kind->second;
    }
  }
  std::map<int, at::Tensor> vectors;
  bool site_set = false;
  for (const SafetensorsTensorInfo& info : file->tensors()) {
    int layer = -1;
    SiteKind kind = meta.site;
    long n = parse_index(info.name);
    if (n >= 0) {
      layer = int(n);
      if (!site_known) kind = SiteKind::kResidPost;
    } else {
      Site s;
      try {
        s = parse_site(info.name);
      } catch (const Error&) {
        fail(path + ": tensor '" + info.name + "' is not named after a hook site",
             "direction tensors are named like blocks.14.hook_resid_pre (or a bare layer number)");
      }
      if (!s.per_layer())
        fail(path + ": tensor '" + info.name + "' is not a per-layer site", "directions are per layer");
      layer = s.layer;
      kind = s.kind;
    }
    if (site_known && kind != meta.site)
      fail(path + ": tensor '" + info.name + "' is at site " + site_kind_name(kind) + " but the metadata says " +
           site_kind_name(meta.site));
    if (site_set && kind != meta.site)
      fail(path + ": tensors at two sites (" + site_kind_name(meta.site) + " and " + site_kind_name(kind) + ")",
           "a direction set holds one site; split the file");
    meta.site = kind;
    site_set = true;
    if (info.shape.size() != 1)
      fail(path + ": tensor '" + info.name + "' has " + std::to_string(info.shape.size()) +
           " dimensions; a direction is 1-D [d_model]");
    if (vectors.count(layer)) fail(path + ": two tensors for layer " + std::to_string(layer));
    if (info.shape[0] < 1) fail(path + ": tensor '" + info.name + "' has no elements");  // found by fuzzing
    at::Tensor v = info.dtype == SafetensorsDType::F32
                       ? f32_tensor(file->tensor_data(info), info.shape[0])
                       : at::tensor(file->to_float(info), at::kFloat);  // throws for non-float dtypes
    if (meta.d_model != 0 && v.size(0) != meta.d_model)
      fail(path + ": tensor '" + info.name + "' has " + std::to_string(v.size(0)) + " elements but d_model is " +
           std::to_string(meta.d_model));
    vectors.emplace(layer, std::move(v));
  }
  if (vectors.empty()) fail(path + ": no direction tensors in the file");
  try {
    return DirectionSet(std::move(meta), std::move(vectors));
  } catch (const Error& e) {
    fail(path + ": " + e.what(), e.hint());
  }
}

// ---------------------------------------------------------------------------------------------
// llama.cpp control-vector GGUF

constexpr const char* kArch = "controlvector";

void save_gguf(const DirectionSet& set, const std::string& path) {
  const DirectionMeta& m = set.meta();
  // Which block's output each vector goes to.
  int shift = 0;
  if (m.site == SiteKind::kResidPre) shift = -1;  // resid_pre of L = output of block L−1
  else if (m.site != SiteKind::kResidPost)
    fail("cannot save '" + path + "' as a llama.cpp control vector: the vectors are at " + site_kind_name(m.site),
         "control vectors are added to a block's output (hook_resid_post, or hook_resid_pre of the next "
         "block); save as .safetensors instead");
  GGUFWriter w;
  w.set_string("general.architecture", kArch);
  // GGUF strings are UTF-8 (Python's gguf reader decodes them strictly): a model name with a bad
  // byte is written with U+FFFD, as in the JSON metadata.
  w.set_string(std::string(kArch) + ".model_hint", valid_utf8(m.model.empty() ? m.model_arch : m.model));
  w.set_i32(std::string(kArch) + ".layer_count", int32_t(set.vectors().size()));
  w.set_string("steer.kind", m.kind);
  w.set_string("steer.site", site_kind_name(m.site));
  w.set_string("steer.meta", json_text(direction_meta_to_json(m)));
  for (const auto& [layer, v] : set.vectors()) {
    int n = layer + shift;
    if (n < 1)
      fail("cannot save '" + path + "' as a llama.cpp control vector: " + site_name({m.site, layer}) +
               (m.site == SiteKind::kResidPre && layer == 0
                    ? " is the embedding output, which no block's output equals"
                    : " would be direction." + std::to_string(n) +
                          ", and llama.cpp refuses direction.0 (the output of block 0 cannot be steered there)"),
           "drop that layer (--layers, e.g. --layers 1-N), or save as .safetensors");
    w.add_tensor("direction." + std::to_string(n), {v.size(0)}, GGMLType::F32, f32_bytes(v));
  }
  w.write(path);
}

DirectionSet load_gguf(const std::string& path) {
  auto file = GGUFFile::open(path);
  if (file->has("general.architecture")) {
    std::string arch = file->get_string("general.architecture");
    if (arch != kArch)
      fail(path + ": general.architecture is '" + arch + "', not 'controlvector'",
           "this looks like a model file, not a control vector");
  }
  const std::string hint_key = std::string(kArch) + ".model_hint";
  const std::string count_key = std::string(kArch) + ".layer_count";
  DirectionMeta meta;
  if (file->has("steer.meta")) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(file->get_string("steer.meta"));
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail(path + ": steer.meta is not valid JSON: " + json_error_text(e));
    }
    meta = direction_meta_from_json(j, path);
    // steer.site decides which layer direction.N is; a file where it and steer.meta disagree
    // (edited by hand, or by another tool) would steer a layer off by one without a word.
    if (file->has("steer.site")) {
      const SiteKind flat = parse_site_kind(file->get_string("steer.site"));
      if (flat != meta.site)
        fail(path + ": steer.site is " + site_kind_name(flat) + " but steer.meta says " + site_kind_name(meta.site),
             "the file was edited inconsistently; re-create it with steer extract or steer convert");
    }
  } else {
    meta.model = file->get_string(hint_key, "");
    const auto& archs = supported_architectures();
    if (std::find(archs.begin(), archs.end(), meta.model) != archs.end()) meta.model_arch = meta.model;
    meta.site = SiteKind::kResidPost;
    meta.method = "control-vector";
    if (file->has("steer.site")) meta.site = parse_site_kind(file->get_string("steer.site"));
  }
  if (file->has("steer.kind")) {
    meta.kind = file->get_string("steer.kind");
    check_direction_kind(meta.kind, path);
  }
  if (file->has(count_key) && !file->get(count_key).is_integer())
    fail(path + ": " + count_key + " is " + gguf_value_type_name(file->get(count_key).type()) +
         ", not an integer");
  if (meta.site != SiteKind::kResidPost && meta.site != SiteKind::kResidPre)
    fail(path + ": steer.site is " + site_kind_name(meta.site) + ", which a control vector cannot hold");
  const int shift = meta.site == SiteKind::kResidPre ? 1 : 0;

  std::map<int, at::Tensor> vectors;
  int64_t n_embd = -1;
  for (const GGUFTensorInfo& t : file->tensors()) {
    const std::string prefix = "direction.";
    long n = t.name.compare(0, prefix.size(), prefix) == 0 ? parse_index(t.name.substr(prefix.size())) : -1;
    if (n < 0)
      fail(path + ": tensor '" + t.name + "' is not a direction.N tensor",
           "a control vector holds only tensors direction.1, direction.2, ... (llama.cpp refuses others)");
    if (n == 0)
      fail(path + ": tensor direction.0 is invalid (llama.cpp refuses layer index 0)",
           "direction.N is added to the output of block N, N ≥ 1");
    if (t.type != GGMLType::F32)
      fail(path + ": tensor '" + t.name + "' is " + ggml_type_name(t.type) + ", not F32",
           "llama.cpp reads only F32 direction tensors");
    if (t.ne.size() != 1)
      fail(path + ": tensor '" + t.name + "' has " + std::to_string(t.ne.size()) + " dimensions, not 1",
           "a direction is 1-D [n_embd]");
    if (n_embd >= 0 && t.ne[0] != n_embd)
      fail(path + ": tensor '" + t.name + "' has " + std::to_string(t.ne[0]) + " elements but an earlier one has " +
           std::to_string(n_embd));
    if (t.ne[0] < 1) fail(path + ": tensor '" + t.name + "' has no elements");  // found by fuzzing (memcpy from null)
    n_embd = t.ne[0];
    int layer = int(n) + shift;
    if (vectors.count(layer)) fail(path + ": tensor '" + t.name + "' appears twice");
    vectors.emplace(layer, f32_tensor(file->tensor_data(t), t.ne[0]));
  }
  if (vectors.empty()) fail(path + ": no direction tensors in the file", "a control vector has direction.N tensors");
  if (meta.d_model != 0 && meta.d_model != n_embd)
    fail(path + ": the tensors have " + std::to_string(n_embd) + " elements but steer.meta says d_model " +
         std::to_string(meta.d_model));
  try {
    return DirectionSet(std::move(meta), std::move(vectors));
  } catch (const Error& e) {
    fail(path + ": " + e.what(), e.hint());
  }
}

}  // namespace

DirectionSet load_directions(const std::string& path) {
  return format_of(path, "read") == VectorFormat::kGGUF ? load_gguf(path) : load_safetensors(path);
}

void save_directions(const DirectionSet& set, const std::string& path) {
  if (set.empty()) fail("cannot save '" + path + "': the direction set is empty");
  if (format_of(path, "write") == VectorFormat::kGGUF) save_gguf(set, path);
  else save_safetensors(set, path);
}

}  // namespace steer
