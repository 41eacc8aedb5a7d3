// CSV tables and plain text files, written atomically (io/atomic_file.h) so a crash never
// leaves half a results file. Quoting follows RFC 4180, which src/data/csv.h reads back.
#include <cmath>
#include <cstdio>
#include "steer/error.h"
#include "steer/json_text.h"
#include "io/atomic_file.h"
#include "report/report.h"

namespace steer {

std::string format_number(double value, const char* format) {
  if (!std::isfinite(value)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}
namespace {

// Fields are made valid UTF-8 first (bad bytes → U+FFFD), so every reader can decode the file.
void append_field(std::string& out, const std::string& raw) {
  const std::string field = valid_utf8(raw);
  if (field.find_first_of(",\"\r\n") == std::string::npos) {
    out += field;
    return;
  }
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void append_record(std::string& out, const std::vector<std::string>& fields) {
  // A lone empty field would be a blank line, which readers skip.
  if (fields.size() == 1 && fields[0].empty()) {
    out += "\"\"\r\n";
    return;
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    append_field(out, fields[i]);
  }
  out += "\r\n";
}

}  // namespace

void write_text_file_atomic(const std::string& path, const std::string& text) {
  AtomicFile file(path);
  file.write(text.data(), text.size());
  file.commit();
}

std::string csv_text(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  if (header.empty()) fail("CSV: the header has no columns");
  std::string out;
  append_record(out, header);
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != header.size())
      fail("CSV: row " + std::to_string(r + 1) + " has " + std::to_string(rows[r].size()) + " fields, the header " +
           std::to_string(header.size()));
    append_record(out, rows[r]);
  }
  return out;
}

void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows) {
  std::string text;
  try {
    text = csv_text(header, rows);
  } catch (const Error& e) {
    fail(path + ": " + e.what(), e.hint());
  }
  write_text_file_atomic(path, text);
}

}  // namespace steer
