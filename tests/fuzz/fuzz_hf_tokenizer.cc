// A Hugging Face tokenizer folder: tokenizer.json (before the first "\n====\n") and
// tokenizer_config.json (after it, when present), loaded as Tokenizer::from_hf_dir does, then a
// short encode/decode with the result.
#include <filesystem>

#include "fuzz_target.h"
#include "steer/error.h"
#include "steer/tokenizer.h"

STEER_FUZZ_TARGET(hf_tokenizer) {
  const auto [tokenizer_json, tokenizer_config] = steer::fuzz::split_input(data, size);
  const std::string dir = steer::fuzz::input_dir() + "/hf";
  std::filesystem::create_directories(dir);
  steer::fuzz::write_input(reinterpret_cast<const uint8_t*>(tokenizer_json.data()), tokenizer_json.size(),
                           "hf/tokenizer.json");
  const std::string config_path = dir + "/tokenizer_config.json";
  if (tokenizer_config.empty()) {
    std::filesystem::remove(config_path);
  } else {
    steer::fuzz::write_input(reinterpret_cast<const uint8_t*>(tokenizer_config.data()), tokenizer_config.size(),
                             "hf/tokenizer_config.json");
  }
  steer::Tokenizer tok = steer::Tokenizer::from_hf_dir(dir);
  std::vector<int32_t> ids = tok.encode("Hello world! 12345 \xc3\xa9\xf0\x9f\x98\x80", true);
  (void)tok.decode(ids, true);
}
