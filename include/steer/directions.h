// steer::DirectionSet — steering vectors as values: one float32 vector of d_model per layer, at
// one hook-site kind, with metadata saying where they came from. The methods of every paper
// produce one (difference in means, CAA, PCA) and every intervention consumes one.
//
//   DirectionSet v = load_directions("sycophancy.safetensors");
//   DirectionSet w = 2.0f * v - load_directions("other.gguf");   // algebra keeps metadata of the left
//   save_directions(w, "combined.gguf");                           // llama.cpp control vector
//
// Files (format by extension): .safetensors — one F32 tensor per layer named with its hook
// site ("blocks.14.hook_resid_pre"), metadata as JSON under "steer" plus flat keys; .gguf —
// llama.cpp's control-vector format to the letter (general.architecture = "controlvector",
// controlvector.model_hint, controlvector.layer_count, tensors direction.N, F32 1-D, N ≥ 1,
// added to the output of block N = our blocks.N.hook_resid_post; a hook_resid_pre vector at
// layer L is the same tensor as hook_resid_post of L−1 and is written as direction.(L−1)).
// Layer 0 of resid_post cannot be expressed and is refused, never dropped. A set meant for
// ablation is marked (metadata kind = "ablation", GGUF key steer.kind) so it is never applied
// as an addition by this tool.
//
// Failure: every load/save and every mismatch (d_model, layer count) is a steer::Error naming
// the file and both numbers.
#pragma once
#include <ATen/core/Tensor.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "steer/sites.h"

namespace steer {

struct ModelConfig;

struct DirectionMeta {
  std::string model;               // model name (general.name) — controlvector.model_hint
  std::string model_arch;          // e.g. "llama"
  int n_layers = 0;                // of the model the vectors were made for (0 = unknown)
  int d_model = 0;
  SiteKind site = SiteKind::kResidPost;
  std::string method;              // "mean-diff", "caa", "pca", "control-vector", ...
  std::string kind = "addition";   // "addition" or "ablation"
  std::vector<int64_t> positions;  // positions read (e.g. -5..-1), if any
  std::map<std::string, std::string> datasets;  // name → sha256 of the file
  std::string version;             // steer version that wrote it
  nlohmann::json extra = nlohmann::json::object();  // method-specific (e.g. selected pos/layer, scores)
};

class DirectionSet {
 public:
  DirectionSet() = default;
  DirectionSet(DirectionMeta meta, std::map<int, at::Tensor> vectors);  // checks every vector is [d_model]

  const DirectionMeta& meta() const { return meta_; }
  DirectionMeta& meta() { return meta_; }
  const std::map<int, at::Tensor>& vectors() const { return vectors_; }  // layer → [d_model] float32
  std::vector<int> layers() const;
  bool has(int layer) const { return vectors_.count(layer) != 0; }
  const at::Tensor& at_layer(int layer) const;  // steer::Error naming the layer and the layers present
  bool empty() const { return vectors_.empty(); }

  DirectionSet only_layers(const std::vector<int>& layers) const;  // error if one is absent
  DirectionSet normalized() const;                 // each vector to unit norm
  DirectionSet rescaled(float norm) const;         // each vector to the given norm
  // Checks d_model (and n_layers when both known) against a model; error names both numbers.
  void check_compatible(const ModelConfig& config, const std::string& what) const;

  // Algebra: layer-wise; a layer present on one side only counts as zero on the other.
  // Sites and d_model must match. Metadata of the left operand is kept; method records the op.
  DirectionSet operator+(const DirectionSet& o) const;
  DirectionSet operator-(const DirectionSet& o) const;
  DirectionSet operator*(float s) const;
  friend DirectionSet operator*(float s, const DirectionSet& d) { return d * s; }
  DirectionSet operator-() const { return *this * -1.f; }

 private:
  DirectionMeta meta_;
  std::map<int, at::Tensor> vectors_;
};

DirectionSet load_directions(const std::string& path);                     // .safetensors or .gguf
void save_directions(const DirectionSet& set, const std::string& path);   // atomic; by extension

}  // namespace steer
