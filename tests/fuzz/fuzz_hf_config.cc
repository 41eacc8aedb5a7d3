// config.json of a Hugging Face model, read as config_from_hf_dir does (a bounded regular file,
// JSON syntax errors with line and column), then every field config_from_hf reads, of any JSON
// type (a string where a number belongs, zero heads, huge sizes).
#include <filesystem>

#include "fuzz_target.h"
#include "steer/config.h"
#include "steer/error.h"

STEER_FUZZ_TARGET(hf_config) {
  const std::string dir = steer::fuzz::input_dir() + "/config";
  std::filesystem::create_directories(dir);
  steer::fuzz::write_input(data, size, "config/config.json");
  (void)steer::config_from_hf_dir(dir);
}
