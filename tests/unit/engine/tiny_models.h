// The real tiny model (stories260K, llama, F32) as the engine tests load it, once per test
// binary: plain, and with a small chat template (the file has none) so prompts get a
// post-instruction tail.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "steer/model.h"
#include "test_paths.h"

namespace steer::test {

inline std::shared_ptr<Model> tiny() {
  static std::shared_ptr<Model> m = [] {
    LoadOptions o;
    o.dtype = DType::kFloat32;
    o.progress = false;
    return Model::load(tiny_model(), o);
  }();
  return m;
}

inline std::shared_ptr<Model> tiny_chat() {
  static std::shared_ptr<Model> m = [] {
    std::string path =
        (std::filesystem::temp_directory_path() / ("steer-tiny-template-" + std::to_string(::getpid()) + ".json"))
            .string();
    std::ofstream(path) << R"({"user_prefix": "Question: ", "user_suffix": "\n", "generation_prompt": "Answer:"})";
    LoadOptions o;
    o.dtype = DType::kFloat32;
    o.progress = false;
    o.chat_template_file = path;
    return Model::load(tiny_model(), o);
  }();
  return m;
}

}  // namespace steer::test
