// A small RFC 4180 CSV reader for the benchmark files (AdvBench, HarmBench, JailbreakBench,
// StrongREJECT): ',' separators; fields in double quotes may hold commas, line breaks and
// doubled quotes (""); records end at LF, CRLF or a lone CR; a UTF-8 BOM is ignored; empty
// lines between records are skipped. The first record is the header.
// Lenient where Python's csv module is (a quote inside an unquoted field is kept as a
// character) and strict where a file is surely broken: an unterminated quoted field, text
// after a closing quote, or a row whose field count differs from the header's.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace steer {

struct CsvRow {
  std::vector<std::string> fields;
  size_t line = 0;  // 1-based line of the file where the record starts
  size_t row = 0;   // 1-based data row (the header is not counted)
};

struct CsvTable {
  std::vector<std::string> header;
  std::vector<CsvRow> rows;

  // Index of the first column named `name` (exact match), or -1.
  int column(const std::string& name) const;
  // "[a, b, c]" for messages.
  std::string header_list() const;
};

// Throws steer::Error naming `source`, the line and the field on malformed input, and on a
// file without a header row.
CsvTable parse_csv(const std::string& bytes, const std::string& source);

}  // namespace steer
