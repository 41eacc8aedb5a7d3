// The fuzz targets' shared helpers: the replay registry and per-process input files.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "fuzz_target.h"

namespace steer::fuzz {
namespace {

std::map<std::string, TargetFn>& registry() {
  static std::map<std::string, TargetFn> targets;
  return targets;
}

}  // namespace

bool register_target(const char* name, TargetFn fn) {
  registry()[name] = fn;
  return true;
}

TargetFn find_target(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second;
}

std::vector<std::string> target_names() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : registry()) names.push_back(name);
  return names;
}

std::string input_dir() {
  static const std::string dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("steer-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  return dir;
}

std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = input_dir() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("fuzz harness: cannot write " + path);
  if (size && std::fwrite(data, 1, size, f) != size) {
    std::fclose(f);
    throw std::runtime_error("fuzz harness: short write to " + path);
  }
  std::fclose(f);
  return path;
}

std::pair<std::string, std::string> split_input(const uint8_t* data, size_t size) {
  const std::string all(reinterpret_cast<const char*>(data), size);
  static const std::string sep = "\n====\n";
  const size_t at = all.find(sep);
  if (at == std::string::npos) return {all, ""};
  return {all.substr(0, at), all.substr(at + sep.size())};
}

}  // namespace steer::fuzz
