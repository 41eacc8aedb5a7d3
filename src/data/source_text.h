// Shared plumbing of the data loaders: reading a file whole, naming it, parsing JSON with an
// error that gives the line and column, and describing JSON values in messages.
#pragma once
#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace steer {

// The whole file. Throws steer::Error naming `what` ("prompt file") and the path.
std::string read_file_bytes(const std::string& path, const std::string& what);

// "dir/advbench.csv" → "advbench.csv" / "advbench" / ".csv" (lowercase).
std::string file_name(const std::string& path);
std::string file_stem(const std::string& path);
std::string file_extension_lower(const std::string& path);

// Parses JSON; a syntax error becomes steer::Error "<source>: line L, column C: bad JSON: …".
// first_line: the line number of the text's first line in its file (JSONL lines).
nlohmann::json parse_json_text(const std::string& bytes, const std::string& source,
                               size_t first_line = 1);

// 1-based line and column of byte offset `pos` (0-based) in `bytes`.
void line_column(const std::string& bytes, size_t pos, size_t* line, size_t* column);

// "a string", "a number", "null", "an object", … for messages.
std::string json_kind(const nlohmann::json& value);
std::string json_kind(const nlohmann::ordered_json& value);
// "[a, b, c]" of an object's keys, in file order where the json keeps it (sorted otherwise).
std::string json_key_list(const nlohmann::json& object);

}  // namespace steer
