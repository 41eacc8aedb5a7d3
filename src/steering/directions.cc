// DirectionSet: the value type (construction checks, per-layer access, normalization and
// algebra). Files are in vector_files.cc.
#include "steer/directions.h"

#include <ATen/ATen.h>

#include <cmath>
#include <sstream>

#include "steer/error.h"
#include "steer/config.h"

namespace steer {
namespace {

std::string join_layers(const std::vector<int>& layers) {
  std::ostringstream s;
  for (size_t i = 0; i < layers.size(); ++i) s << (i ? "," : "") << layers[i];
  return layers.empty() ? std::string("none") : s.str();
}

std::string format_norm(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

DirectionSet::DirectionSet(DirectionMeta meta, std::map<int, at::Tensor> vectors) : meta_(std::move(meta)) {
  for (auto& [layer, v] : vectors) {
    const std::string where = site_name({meta_.site, layer});
    if (layer < 0) fail("direction set: layer " + std::to_string(layer) + " is negative", "layers are 0-based");
    if (meta_.n_layers > 0 && layer >= meta_.n_layers)
      fail("direction set: " + where + " is out of range: the model has " + std::to_string(meta_.n_layers) +
               " layers",
           "layers are 0-based: 0.." + std::to_string(meta_.n_layers - 1));
    if (!v.defined() || v.dim() != 1)
      fail("direction set: " + where + " must be a 1-D vector [d_model], got " +
           (v.defined() ? std::to_string(v.dim()) + " dimensions" : std::string("an undefined tensor")));
    if (meta_.d_model == 0) meta_.d_model = static_cast<int>(v.size(0));
    if (v.size(0) != meta_.d_model)
      fail("direction set: " + where + " has " + std::to_string(v.size(0)) + " elements but d_model is " +
               std::to_string(meta_.d_model),
           "every vector of a set must have d_model elements");
    // float32, contiguous, CPU, and not aliasing the caller's tensor (a set is a value).
    at::Tensor f = v.to(at::kCPU, at::kFloat).contiguous();
    if (f.data_ptr() == v.data_ptr()) f = f.clone();
    vectors_.emplace(layer, std::move(f));
  }
}

std::vector<int> DirectionSet::layers() const {
  std::vector<int> out;
  for (const auto& kv : vectors_) out.push_back(kv.first);
  return out;
}

const at::Tensor& DirectionSet::at_layer(int layer) const {
  auto it = vectors_.find(layer);
  if (it == vectors_.end())
    fail("direction set has no vector at layer " + std::to_string(layer) + " (layers present: " +
             join_layers(layers()) + ")",
         "choose one of the layers present, or extract at this layer");
  return it->second;
}

DirectionSet DirectionSet::only_layers(const std::vector<int>& layers) const {
  std::map<int, at::Tensor> out;
  for (int l : layers) out.emplace(l, at_layer(l));
  return DirectionSet(meta_, std::move(out));
}

DirectionSet DirectionSet::rescaled(float norm) const {
  if (!std::isfinite(norm) || norm < 0)
    fail("direction set: cannot rescale to norm " + format_norm(norm), "the norm must be finite and ≥ 0");
  std::map<int, at::Tensor> out;
  for (const auto& [layer, v] : vectors_) {
    double n = v.to(at::kDouble).norm().item<double>();
    if (!(n > 0) || !std::isfinite(n))
      fail("direction set: the vector at layer " + std::to_string(layer) + " has norm " + format_norm(n) +
               " and cannot be rescaled",
           "a zero or non-finite vector has no direction");
    out.emplace(layer, (v.to(at::kDouble) * (double(norm) / n)).to(at::kFloat));
  }
  return DirectionSet(meta_, std::move(out));
}

DirectionSet DirectionSet::normalized() const { return rescaled(1.f); }

void DirectionSet::check_compatible(const ModelConfig& config, const std::string& what) const {
  if (meta_.d_model != 0 && meta_.d_model != config.d_model)
    fail(what + ": the vectors have d_model " + std::to_string(meta_.d_model) + " but the model has d_model " +
             std::to_string(config.d_model),
         "the vectors were made for another model" +
             (meta_.model.empty() ? std::string() : " (" + meta_.model + ")"));
  if (meta_.n_layers != 0 && meta_.n_layers != config.n_layers)
    fail(what + ": the vectors were made for a model with " + std::to_string(meta_.n_layers) +
             " layers but this model has " + std::to_string(config.n_layers),
         "the vectors were made for another model" +
             (meta_.model.empty() ? std::string() : " (" + meta_.model + ")"));
  for (int l : layers())
    if (l >= config.n_layers)
      fail(what + ": vector at layer " + std::to_string(l) + " but the model has " +
               std::to_string(config.n_layers) + " layers",
           "layers are 0-based: 0.." + std::to_string(config.n_layers - 1));
}

namespace {

void check_same_space(const DirectionSet& a, const DirectionSet& b, const char* op) {
  const DirectionMeta& x = a.meta();
  const DirectionMeta& y = b.meta();
  if (x.site != y.site)
    fail(std::string("direction algebra (") + op + "): sites differ: " + site_kind_name(x.site) + " vs " +
             site_kind_name(y.site),
         "vectors read at different hook sites live in different places of the model");
  if (x.d_model != 0 && y.d_model != 0 && x.d_model != y.d_model)
    fail(std::string("direction algebra (") + op + "): d_model differs: " + std::to_string(x.d_model) + " vs " +
             std::to_string(y.d_model),
         "the two sets were made for different models");
  if (x.kind != y.kind)
    fail(std::string("direction algebra (") + op + "): cannot combine a set of kind '" + x.kind +
             "' with one of kind '" + y.kind + "'",
         "an ablation direction is not an additive vector");
}

DirectionSet combine(const DirectionSet& a, const DirectionSet& b, double sign, const char* op) {
  check_same_space(a, b, op);
  std::map<int, at::Tensor> out;
  for (const auto& [l, v] : a.vectors()) out.emplace(l, v.to(at::kDouble));
  for (const auto& [l, v] : b.vectors()) {
    auto it = out.find(l);
    if (it == out.end()) out.emplace(l, v.to(at::kDouble) * sign);
    else it->second = it->second + v.to(at::kDouble) * sign;
  }
  for (auto& kv : out) kv.second = kv.second.to(at::kFloat);
  DirectionMeta meta = a.meta();
  if (meta.d_model == 0) meta.d_model = b.meta().d_model;
  meta.method = "(" + a.meta().method + ") " + op + " (" + b.meta().method + ")";
  return DirectionSet(std::move(meta), std::move(out));
}

}  // namespace

DirectionSet DirectionSet::operator+(const DirectionSet& o) const { return combine(*this, o, 1.0, "+"); }
DirectionSet DirectionSet::operator-(const DirectionSet& o) const { return combine(*this, o, -1.0, "-"); }

DirectionSet DirectionSet::operator*(float s) const {
  std::map<int, at::Tensor> out;
  for (const auto& [l, v] : vectors_) out.emplace(l, v * s);
  DirectionMeta meta = meta_;
  meta.method = format_norm(s) + " * (" + meta_.method + ")";
  return DirectionSet(std::move(meta), std::move(out));
}

}  // namespace steer
