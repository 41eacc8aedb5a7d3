// Plumbing shared by the prompt, A/B and StereoSet loaders (see source_text.h).
#include "data/source_text.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/read_file.h"
#include "steer/error.h"

namespace steer {

std::string read_file_bytes(const std::string& path, const std::string& what) {
  return read_regular_file(path, what);
}

std::string file_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string file_stem(const std::string& path) {
  std::string name = file_name(path);
  size_t dot = name.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

std::string file_extension_lower(const std::string& path) {
  std::string name = file_name(path);
  size_t dot = name.find_last_of('.');
  if (dot == std::string::npos || dot == 0) return "";
  std::string ext = name.substr(dot);
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

void line_column(const std::string& bytes, size_t pos, size_t* line, size_t* column) {
  size_t l = 1, c = 1;
  for (size_t i = 0; i < pos && i < bytes.size(); ++i) {
    if (bytes[i] == '\n') {
      ++l;
      c = 1;
    } else {
      ++c;
    }
  }
  *line = l;
  *column = c;
}

nlohmann::json parse_json_text(const std::string& bytes, const std::string& source,
                               size_t first_line) {
  try {
    return nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is the 1-based offset of the character where parsing stopped.
    size_t line = 0, column = 0;
    line_column(bytes, e.byte > 0 ? e.byte - 1 : 0, &line, &column);
    std::string what = e.what();
    size_t cut = what.find("syntax error");
    if (cut != std::string::npos) what = what.substr(cut);
    fail(source + ": line " + std::to_string(line + first_line - 1) + ", column " +
             std::to_string(column) + ": bad JSON: " + what,
         bytes.empty() ? "the file is empty"
                       : "check the JSON at that place (a missing ',' or quote is common); "
                         "a file with one JSON value per line needs --format jsonl");
  } catch (const nlohmann::json::exception& e) {
    // Not a syntax error: a number beyond double's range (found by fuzzing).
    fail(source + ": bad JSON: " + json_error_text(e), "numbers must fit a double (|x| < 1.8e308)");
  }
}

namespace {

template <class Json>
std::string kind_of(const Json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::array:
      return "a list";
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::binary:
      return "binary data";
    case nlohmann::json::value_t::discarded:
      return "nothing";
    default:
      return "a number";
  }
}

}  // namespace

std::string json_kind(const nlohmann::json& value) { return kind_of(value); }
std::string json_kind(const nlohmann::ordered_json& value) { return kind_of(value); }

std::string json_key_list(const nlohmann::json& object) {
  std::string out = "[";
  bool first = true;
  for (auto it = object.begin(); it != object.end(); ++it) {
    out += (first ? "" : ", ") + it.key();
    first = false;
  }
  return out + "]";
}

}  // namespace steer
