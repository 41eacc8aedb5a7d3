// Files the fuzz targets load once at start (real vocabularies, the tiny model), from the paths
// CMake bakes in (as tests/test_paths.h does for the tests).
#pragma once
#include <string>

namespace steer::fuzz {

inline std::string test_data(const std::string& relative) { return std::string(STEER_TEST_DATA) + "/" + relative; }
inline std::string tiny_model_path() { return std::string(STEER_SHARED_DATA) + "/tiny-models/stories260K.gguf"; }

}  // namespace steer::fuzz
