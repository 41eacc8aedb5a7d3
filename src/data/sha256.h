// SHA-256 (FIPS 180-4) of a byte string, as lowercase hex. Used for the provenance of the
// prompt files a run read (PromptSet::sha256); not for anything security-related.
#pragma once
#include <cstddef>
#include <string>

namespace steer {

std::string sha256_hex(const void* data, size_t n);
inline std::string sha256_hex(const std::string& bytes) {
  return sha256_hex(bytes.data(), bytes.size());
}

}  // namespace steer
