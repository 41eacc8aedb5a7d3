// Helpers for tokenizer tests: llama.cpp's test-tokenizer-0 vector files, and the repair of
// the damaged vocabulary GGUFs in ../shared/data/tokenizer-vectors (see
// tools/reference/repair_tokenizer_vectors.py).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace steer::test {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct VectorCase {
  std::string text;
  std::vector<int32_t> ids;
};

// Reads `name`.inp / `name`.out as llama.cpp's tests/test-tokenizer-0.cpp does: inputs are
// separated by "\n__ggml_vocab_test__\n" (the file ends with one, so no case keeps a trailing
// newline of its own); each output line holds space-separated ids, surrounding whitespace
// stripped.
inline std::vector<VectorCase> read_vector_cases(const std::string& inp_path, const std::string& out_path) {
  const std::string raw = read_file(inp_path);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  size_t pos = 0;
  while (pos < raw.size()) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      inputs.push_back(raw.substr(pos));
      break;
    }
    inputs.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<std::vector<int32_t>> outputs;
  std::istringstream out(read_file(out_path));
  for (std::string line; std::getline(out, line);) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    for (int64_t id; ls >> id;) ids.push_back(static_cast<int32_t>(id));
    outputs.push_back(ids);
  }
  if (inputs.size() != outputs.size()) {
    throw std::runtime_error(inp_path + ": " + std::to_string(inputs.size()) + " inputs but " +
                             std::to_string(outputs.size()) + " outputs");
  }
  std::vector<VectorCase> cases;
  for (size_t i = 0; i < inputs.size(); ++i) cases.push_back({inputs[i], outputs[i]});
  return cases;
}

// The vocabulary GGUFs in shared/data/tokenizer-vectors were damaged in transit: every byte
// sequence that is not valid UTF-8 was replaced by U+FFFD (EF BF BD). A patch file lists, for
// each such replacement, where it is in the damaged file and the original bytes; applying it
// gives the original file (its size and SHA-256 are recorded in the patch). Writes the
// repaired file to `out_path`.
inline void repair_vocab_file(const std::string& damaged_path, const std::string& patch_path,
                              const std::string& out_path) {
  const std::string damaged = read_file(damaged_path);
  const nlohmann::json patch = nlohmann::json::parse(read_file(patch_path));
  if (damaged.size() != patch.at("damaged_size").get<size_t>()) {
    throw std::runtime_error(damaged_path + " is not the file " + patch_path + " was made for");
  }
  std::string fixed;
  fixed.reserve(patch.at("repaired_size").get<size_t>());
  size_t pos = 0;
  size_t offset = 0;
  for (const auto& p : patch.at("patches")) {
    offset += p.at(0).get<size_t>();  // offsets are delta-coded
    if (damaged.compare(offset, 3, "\xEF\xBF\xBD") != 0) {
      throw std::runtime_error(patch_path + ": no replacement character at damaged offset " + std::to_string(offset));
    }
    fixed.append(damaged, pos, offset - pos);
    const std::string hex = p.at(1).get<std::string>();
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
      fixed.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    pos = offset + 3;
  }
  fixed.append(damaged, pos, std::string::npos);
  if (fixed.size() != patch.at("repaired_size").get<size_t>()) {
    throw std::runtime_error(patch_path + ": repaired size " + std::to_string(fixed.size()) + " != " +
                             std::to_string(patch.at("repaired_size").get<size_t>()));
  }
  std::ofstream out(out_path, std::ios::binary);
  out << fixed;
  if (!out) throw std::runtime_error("cannot write " + out_path);
}

}  // namespace steer::test
