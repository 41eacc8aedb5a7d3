// GGUF reader: header, metadata of every type, tensor infos, then every typed getter and every
// tensor's bytes (sizes and offsets must have been checked against the file at open).
#include <numeric>

#include "fuzz_target.h"
#include "steer/error.h"
#include "steer/gguf.h"

STEER_FUZZ_TARGET(gguf) {
  auto file = steer::GGUFFile::open(steer::fuzz::write_input(data, size, "input.gguf"));
  for (const auto& [key, value] : file->metadata()) {
    (void)value;
    // Each getter either returns or throws steer::Error for a type that does not fit.
    for (auto get : {+[](const steer::GGUFFile& f, const std::string& k) { (void)f.get_string(k); },
                     +[](const steer::GGUFFile& f, const std::string& k) { (void)f.get_int(k); },
                     +[](const steer::GGUFFile& f, const std::string& k) { (void)f.get_float(k); },
                     +[](const steer::GGUFFile& f, const std::string& k) { (void)f.get_bool(k); },
                     +[](const steer::GGUFFile& f, const std::string& k) { (void)f.get_strings(k); },
                     +[](const steer::GGUFFile& f, const std::string& k) { (void)f.get_floats(k); },
                     +[](const steer::GGUFFile& f, const std::string& k) { (void)f.get_ints(k); }}) {
      try {
        get(*file, key);
      } catch (const steer::Error&) {
      }
    }
  }
  volatile uint8_t sum = 0;
  for (const auto& t : file->tensors()) {
    const uint8_t* p = file->tensor_data(t);
    const uint64_t n = t.n_bytes();
    if (n) sum = sum + p[0] + p[n - 1];  // the first and last byte must lie inside the mapping
  }
}
