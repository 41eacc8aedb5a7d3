// One fuzz target = one function of (bytes, size) that feeds them to a parser and accepts only
// two outcomes: success, or a steer::Error (the project's clear-error contract). Anything else —
// another exception type (a raw JSON-library or std:: message reaching the user), a crash, a
// sanitizer report, a hang or a runaway allocation (libFuzzer's -timeout / -rss_limit_mb) — is a
// finding.
//
//   STEER_FUZZ_TARGET(gguf) { ...parse data/size...; }
//
// Built two ways from the same file (tests/fuzz/CMakeLists.txt):
//   - with -DSTEER_FUZZ=ON (clang): one libFuzzer binary per target, fuzz_<name>;
//   - in the normal build: all targets in one test binary that replays tests/fuzz/corpus/<name>/
//     and tests/fuzz/regressions/<name>/ (every finding stays a regression test).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace steer::fuzz {

using TargetFn = void (*)(const uint8_t* data, size_t size);
bool register_target(const char* name, TargetFn fn);  // replay build only
TargetFn find_target(const std::string& name);
std::vector<std::string> target_names();  // registered targets, sorted

// Writes the bytes to a file of this process (the same path each call, so a run does not fill
// the disk) and returns its path; `name` is the file name, e.g. "input.gguf". Parsers that map
// or stat files are fed through it.
std::string write_input(const uint8_t* data, size_t size, const std::string& name);
// A folder of this process for inputs that are folders (a Hugging Face model directory).
std::string input_dir();

// The input split at the first "\n====\n" (the separator is not part of either half); the
// second half is empty when there is no separator. Lets one input carry two files or texts.
std::pair<std::string, std::string> split_input(const uint8_t* data, size_t size);

}  // namespace steer::fuzz

#define STEER_FUZZ_CAT_(a, b) a##b
#ifdef STEER_FUZZ_MAIN
#define STEER_FUZZ_TARGET(name)                                                          \
  static void STEER_FUZZ_CAT_(fuzz_, name)(const uint8_t* data, size_t size);            \
  /* One empty input before fuzzing: fixtures a target loads once (vocabularies, the   */ \
  /* tiny model) are loaded here, not timed as the first input.                        */ \
  extern "C" int LLVMFuzzerInitialize(int*, char***) {                                   \
    try {                                                                                \
      STEER_FUZZ_CAT_(fuzz_, name)(nullptr, 0);                                          \
    } catch (const steer::Error&) {                                                      \
    }                                                                                    \
    return 0;                                                                            \
  }                                                                                      \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {              \
    try {                                                                                \
      STEER_FUZZ_CAT_(fuzz_, name)(data, size);                                          \
    } catch (const steer::Error&) {                                                      \
    }                                                                                    \
    return 0;                                                                            \
  }                                                                                      \
  static void STEER_FUZZ_CAT_(fuzz_, name)(const uint8_t* data, size_t size)
#else
#define STEER_FUZZ_TARGET(name)                                                          \
  static void STEER_FUZZ_CAT_(fuzz_, name)(const uint8_t* data, size_t size);            \
  static const bool STEER_FUZZ_CAT_(registered_, name) =                                 \
      steer::fuzz::register_target(#name, STEER_FUZZ_CAT_(fuzz_, name));                 \
  static void STEER_FUZZ_CAT_(fuzz_, name)(const uint8_t* data, size_t size)
#endif
