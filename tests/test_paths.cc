#include "test_paths.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace steer::test {

std::string source_dir() { return STEER_SOURCE_DIR; }
std::string test_data() { return STEER_TEST_DATA; }
std::string shared_data() { return STEER_SHARED_DATA; }
std::string tiny_model() { return shared_data() + "/tiny-models/stories260K.gguf"; }

std::string default_model(const std::string& key) {
  const char* cache = std::getenv("STEER_CACHE");
  const char* home = std::getenv("HOME");
  std::string dir = cache ? std::string(cache) : std::string(home ? home : "/root") + "/.cache/steer";
  std::string path = dir + "/models/" + key + ".gguf";
  if (!std::filesystem::exists(path)) {
    ADD_FAILURE() << "default model '" << key << "' is not at " << path
                  << " (hint: run scripts/setup.sh, which downloads the default models)";
    return "";
  }
  return path;
}

}  // namespace steer::test
