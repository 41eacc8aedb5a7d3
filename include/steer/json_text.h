// Text output that never throws on text: every JSON document steer writes (stdout, run
// folders, vector-file metadata, HTTP responses) goes through json_text.
//
// nlohmann-json's plain dump() throws on a string that is not valid UTF-8 — a generated token
// that ends inside a multi-byte character (an emoji cut by --max-tokens 1), a path or model
// name with a Latin-1 byte — and that throw came at the end of a run, after the work. Here
// such bytes become U+FFFD instead; where completions are written, their token ids are
// written beside the text, so no output is lost.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace steer {

// j as JSON text (indent < 0: one line); invalid or incomplete UTF-8 in strings → U+FFFD.
inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}
inline std::string json_text(const nlohmann::ordered_json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// `s` with every byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD
// (one per byte, as Python's "replace"); `s` itself when it is valid. For CSV, HTML and SVG.
std::string valid_utf8(std::string_view s);
bool is_valid_utf8(std::string_view s);

}  // namespace steer
