// Reading the small text files steer is given (config.json, tokenizer.json, templates, prompt
// sets, JSON indexes): only regular files, checked before opening (a FIFO would block open()
// forever, /dev/zero would never end), and never more than a stated number of bytes.
#pragma once
#include <cstddef>
#include <exception>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace steer {

// The largest text file steer reads whole: far above any tokenizer.json or prompt set in use
// (the biggest, Gemma's tokenizer.json, is ~33 MB).
constexpr size_t kMaxTextFileBytes = size_t(256) << 20;

// steer::Error naming `what` ("prompt file") and the path unless `path` is a regular file
// (following symlinks). Does not open it.
void require_regular_file(const std::string& path, const std::string& what);

// The whole file, after require_regular_file; steer::Error when it is larger than `max_bytes`
// or cannot be read.
std::string read_regular_file(const std::string& path, const std::string& what,
                              size_t max_bytes = kMaxTextFileBytes);

// read_regular_file, parsed as JSON; a syntax error is a steer::Error "<path>: line L, column C:
// not valid JSON: <what is wrong>" (without the JSON library's error codes).
nlohmann::json read_json_file(const std::string& path, const std::string& what,
                              size_t max_bytes = kMaxTextFileBytes);

// A JSON-library exception's message without its "[json.exception.out_of_range.406] " code, for
// errors that name the file: "number overflow parsing '1e999'".
std::string json_error_text(const std::exception& e);

}  // namespace steer
