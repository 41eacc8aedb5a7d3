#include "steer/model_cache.h"

#include <cstdlib>
#include <filesystem>

#include "steer/error.h"

namespace steer {

const std::vector<DefaultModel>& default_models() {
  static const std::vector<DefaultModel> models = {
      {"smollm2-135m", "SmolLM2-135M-Instruct, Q4_1 (llama) — the default"},
      {"gemma3-270m", "Gemma 3 270M, Q4_K_M (gemma3)"},
      {"qwen2.5-coder-0.5b", "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (qwen2)"},
      {"qwen2.5-coder-1.5b", "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (qwen2) — optional", /*optional=*/true},
  };
  return models;
}

std::string cache_dir() {
  if (const char* c = std::getenv("STEER_CACHE"); c && *c) return c;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.cache/steer";
}

std::string resolve_model_path(const std::string& name_or_path) {
  namespace fs = std::filesystem;
  if (fs::exists(name_or_path)) return name_or_path;
  std::string name = name_or_path == "default" ? kDefaultModelName : name_or_path;
  for (const auto& m : default_models()) {
    if (name == m.name) {
      std::string path = cache_dir() + "/models/" + name + ".gguf";
      if (!fs::exists(path))
        fail("default model '" + name + "' is not downloaded (looked for " + path + ")",
             m.optional ? "run scripts/fetch_models.sh " + name + " (an optional model: setup does not fetch it)"
                        : std::string("run scripts/setup.sh, or scripts/fetch_models.sh"));
      return path;
    }
  }
  std::string names;
  for (const auto& m : default_models()) names += std::string(names.empty() ? "" : ", ") + m.name;
  fail("model not found: " + name_or_path, "give a .gguf file, a Hugging Face directory, or one of: " + names);
}

}  // namespace steer
