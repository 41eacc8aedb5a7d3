// Loads a model through the installed public API and generates a few greedy tokens:
//   steer_install_test MODEL.gguf   → prints "tokens: <id> <id> ..." and exits 0.
#include <cstdio>
#include <iostream>

#include "steer/error.h"
#include "steer/generate.h"
#include "steer/model.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]);
    return 2;
  }
  try {
    steer::LoadOptions load;
    load.dtype = steer::DType::kFloat32;
    load.progress = false;
    auto model = steer::Model::load(argv[1], load);
    steer::GenerateOptions options;
    options.max_new_tokens = 8;
    options.stop_at_eos = false;
    auto out = steer::generate(*model, {steer::encode_raw_prompt(*model, "Once upon a time")}, options);
    if (out.size() != 1 || out[0].ids.size() != 8) {
      std::fprintf(stderr, "error: expected 8 generated tokens\n");
      return 1;
    }
    std::cout << "tokens:";
    for (int32_t id : out[0].ids) std::cout << " " << id;
    std::cout << "\ntext: " << out[0].text << "\n";
  } catch (const steer::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
