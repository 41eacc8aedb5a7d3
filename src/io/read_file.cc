// Bounded reads of regular files (io/read_file.h): stat before open, then read at most
// max_bytes + 1 bytes so a file that grows while read is still caught.
#include "io/read_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "steer/error.h"

namespace steer {

void require_regular_file(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    fail("cannot open " + what + " '" + path + "': " + std::strerror(err),
         "check the path; relative paths are taken from the current directory");
  }
  if (S_ISDIR(st.st_mode)) fail(what + " '" + path + "' is a directory", "give the path of a file");
  if (!S_ISREG(st.st_mode))
    fail(what + " '" + path + "' is not a regular file (a pipe, socket or device)",
         "save the data to a file first and give its path");
}

std::string read_regular_file(const std::string& path, const std::string& what, size_t max_bytes) {
  require_regular_file(path, what);
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail("cannot open " + what + " '" + path + "': " + std::strerror(errno),
         "check that the file is readable");
  auto too_big = [&] {
    fail(what + " '" + path + "' is larger than " + std::to_string(max_bytes) + " bytes",
         "is it the right file?");
  };
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size > 0 && uint64_t(size) > max_bytes) too_big();
  in.seekg(0, std::ios::beg);
  std::string out;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.append(buf, size_t(in.gcount()));
    if (out.size() > max_bytes) too_big();
  }
  if (in.bad()) fail("cannot read " + what + " '" + path + "'");
  return out;
}

nlohmann::json read_json_file(const std::string& path, const std::string& what, size_t max_bytes) {
  const std::string bytes = read_regular_file(path, what, max_bytes);
  try {
    return nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::parse_error& e) {
    size_t line = 1, column = 1;  // e.byte: 1-based offset where parsing stopped
    for (size_t i = 0; i + 1 < e.byte && i < bytes.size(); ++i) {
      if (bytes[i] == '\n') ++line, column = 1;
      else ++column;
    }
    std::string why = e.what();
    const size_t cut = why.find("syntax error");
    why = cut == std::string::npos ? "not valid JSON" : "not valid JSON: " + why.substr(cut);
    fail(path + ": line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + why,
         bytes.empty() ? "the file is empty" : "is this the right " + what + "?");
  } catch (const nlohmann::json::exception& e) {
    // Not a syntax error: a number beyond double's range (found by fuzzing: 1e999 threw
    // json::out_of_range past every handler).
    fail(path + ": not valid JSON: " + json_error_text(e), "is this the right " + what + "?");
  }
}

std::string json_error_text(const std::exception& e) {
  std::string why = e.what();
  if (why.compare(0, 16, "[json.exception.") == 0) {
    const size_t end = why.find("] ");
    if (end != std::string::npos) why = why.substr(end + 2);
  }
  return why;
}

}  // namespace steer
