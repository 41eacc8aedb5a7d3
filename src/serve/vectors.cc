#include "serve/vectors.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>

#include "steer/error.h"
#include "steer/steering_spec.h"

namespace steer::serve {

namespace fs = std::filesystem;

namespace {

bool vector_file(const fs::path& p) { return p.extension() == ".gguf" || p.extension() == ".safetensors"; }

}  // namespace

VectorRegistry::VectorRegistry(const ModelConfig& config, std::string dir) : config_(config), dir_(std::move(dir)) {
  if (!dir_.empty() && !fs::is_directory(dir_)) fail("--vectors " + dir_ + ": not a folder");
}

std::vector<std::string> VectorRegistry::load_folder() {
  std::vector<std::string> warnings;
  if (dir_.empty()) return warnings;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir_))
    if (e.is_regular_file() && vector_file(e.path())) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    try {
      const std::string name = load(f.filename().string());
      const std::string note = other_model_note(get(name)->meta(), config_);
      if (!note.empty()) warnings.push_back(f.filename().string() + ": " + note + "; loaded anyway");
    } catch (const Error& e) {
      warnings.push_back("skipped " + std::string(e.what()));
    }
  }
  return warnings;
}

std::string VectorRegistry::load(const std::string& file, const std::string& name) {
  if (dir_.empty()) fail("no vector folder: start the server with --vectors DIR to load vectors");
  const fs::path p(file);
  if (file.empty() || p.has_parent_path() || file == "." || file == ".." || p.filename() != p)
    fail("vector file '" + file + "': give a plain file name inside the vector folder, not a path");
  if (!vector_file(p)) fail("vector file '" + file + "': not a .gguf or .safetensors file");
  const fs::path full = fs::path(dir_) / p;
  std::error_code ec;
  if (!fs::is_regular_file(full, ec)) fail("vector file '" + file + "' is not in the vector folder " + dir_);
  DirectionSet set = load_directions(full.string());
  set.check_compatible(config_, file);
  for (const auto& [l, v] : set.vectors())
    if (v.numel() != config_.d_model)
      fail(file + ": the vector at layer " + std::to_string(l) + " has width " + std::to_string(v.numel()) +
           ", the model has d_model " + std::to_string(config_.d_model));
  std::string key = name.empty() ? p.stem().string() : name;
  std::lock_guard<std::mutex> lk(mu_);
  entries_[key] = {std::move(set), file};
  return key;
}

bool VectorRegistry::unload(const std::string& name) {
  std::lock_guard<std::mutex> lk(mu_);
  return entries_.erase(name) > 0;
}

std::optional<DirectionSet> VectorRegistry::get(const std::string& name) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return std::nullopt;
  return it->second.set;
}

nlohmann::json VectorRegistry::list() const {
  std::lock_guard<std::mutex> lk(mu_);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, e] : entries_)
    out.push_back({{"name", name},
                   {"file", e.file},
                   {"layers", e.set.layers()},
                   {"d_model", config_.d_model},
                   {"site", site_kind_name(e.set.meta().site)},
                   {"kind", e.set.meta().kind}});
  return out;
}

}  // namespace steer::serve
