// Helpers shared by the file-format tests: whole-file byte I/O, hex decoding, a per-process
// scratch directory, and "expect a steer::Error whose message mentions X".
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "steer/error.h"

namespace steer::test {

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const uint8_t* data, size_t n) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}
inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b) { write_bytes(path, b.data(), b.size()); }

inline std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

inline std::vector<float> floats_from_hex(const std::string& hex) {
  const std::vector<uint8_t> b = from_hex(hex);
  std::vector<float> out(b.size() / 4);
  if (!out.empty()) std::memcpy(out.data(), b.data(), b.size());
  return out;
}

// A scratch directory for this test process, removed when the process exits. In /dev/shm
// when there is one: the corruption tests write thousands of small files.
inline std::string scratch_dir() {
  struct Dir {
    std::string path;
    Dir() {
      std::error_code ec;
      const std::filesystem::path base =
          std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
              ? std::filesystem::path("/dev/shm")
              : std::filesystem::temp_directory_path();
      path = (base / ("steer-io-tests-" + std::to_string(::getpid()))).string();
      std::filesystem::create_directories(path);
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

// Runs f, expecting a steer::Error whose message contains `needle`; returns the message.
template <class F>
std::string expect_error(F f, const std::string& needle) {
  try {
    f();
  } catch (const steer::Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "error message '" << e.what() << "' does not mention '" << needle << "'";
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected steer::Error, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected a steer::Error mentioning '" << needle << "', but nothing was thrown";
  return "";
}

}  // namespace steer::test
