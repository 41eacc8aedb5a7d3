// The server's named steering vectors: files under one folder (--vectors DIR), loaded under
// their file name without extension (sycophancy.gguf → "sycophancy"), checked against the
// model, listed, loaded and unloaded at run time. Only plain file names inside that folder are
// ever opened — never a path a request makes up.
#pragma once
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "steer/config.h"
#include "steer/directions.h"

namespace steer::serve {

class VectorRegistry {
 public:
  VectorRegistry(const ModelConfig& config, std::string dir);

  // Every .gguf / .safetensors file in the folder; returns one warning per file that was skipped
  // (unreadable, another width or layer count) or loaded though made for another architecture
  // or model (its metadata, a control vector's model_hint).
  std::vector<std::string> load_folder();
  // Loads `file` (a plain name in the folder) under `name` (default: the file's stem).
  // steer::Error naming the file: no folder configured, a path instead of a name, not there,
  // not a vector file, wrong d_model or layer count. Returns the name.
  std::string load(const std::string& file, const std::string& name = "");
  bool unload(const std::string& name);
  std::optional<DirectionSet> get(const std::string& name) const;
  nlohmann::json list() const;  // [{name, file, layers, d_model, site, kind}]
  const std::string& dir() const { return dir_; }

 private:
  struct Entry {
    DirectionSet set;
    std::string file;
  };
  const ModelConfig& config_;
  std::string dir_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace steer::serve
