// Where models live: a path given by the user, or the name of a default model that
// scripts/setup.sh downloaded into the cache (${STEER_CACHE:-~/.cache/steer}/models/<name>.gguf).
#pragma once
#include <string>
#include <vector>

namespace steer {

struct DefaultModel {
  const char* name;         // cache key, usable wherever a model path is asked for
  const char* description;
  bool optional = false;    // not fetched by scripts/setup.sh (scripts/fetch_models.sh NAME)
};
const std::vector<DefaultModel>& default_models();
constexpr const char* kDefaultModelName = "smollm2-135m";

std::string cache_dir();
// A file or directory that exists is returned as is; a default model's name (or "default")
// maps into the cache. Anything else is a steer::Error with a hint.
std::string resolve_model_path(const std::string& name_or_path);

}  // namespace steer
