// RFC 4180 reader: one pass over the bytes with a tiny state machine (see csv.h for the
// accepted dialect and what is an error).
#include "data/csv.h"

#include "steer/error.h"

namespace steer {

int CsvTable::column(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return int(i);
  }
  return -1;
}

std::string CsvTable::header_list() const {
  std::string out = "[";
  for (size_t i = 0; i < header.size(); ++i) out += (i ? ", " : "") + header[i];
  return out + "]";
}

CsvTable parse_csv(const std::string& bytes, const std::string& source) {
  size_t i = 0;
  const size_t n = bytes.size();
  if (n >= 3 && bytes.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;

  std::vector<CsvRow> records;
  // "field 2 ('target')" once the header is known, "field 2" inside the header itself.
  auto field_label = [&records](size_t index) {
    std::string label = "field " + std::to_string(index + 1);
    if (!records.empty() && index < records.front().fields.size()) {
      label += " ('" + records.front().fields[index] + "')";
    }
    return label;
  };
  size_t line = 1;
  while (i < n) {
    // Skip empty lines between records.
    if (bytes[i] == '\n' || bytes[i] == '\r') {
      if (bytes[i] == '\r' && i + 1 < n && bytes[i + 1] == '\n') ++i;
      ++i;
      ++line;
      continue;
    }
    CsvRow rec;
    rec.line = line;
    std::string field;
    bool done = false;
    while (!done) {
      if (i < n && bytes[i] == '"') {
        // Quoted field: runs to the next lone quote.
        size_t open_line = line;
        ++i;
        for (;;) {
          if (i >= n) {
            fail(source + ": line " + std::to_string(open_line) + ", " +
                     field_label(rec.fields.size()) +
                     ": unterminated quoted field (the closing '\"' is missing)",
                 "a '\"' inside a quoted field must be doubled (\"\"); check the line named");
          }
          char c = bytes[i];
          if (c == '"') {
            if (i + 1 < n && bytes[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (c == '\n') ++line;
          if (c == '\r' && !(i + 1 < n && bytes[i + 1] == '\n')) ++line;
          field += c;
          ++i;
        }
        if (i < n && bytes[i] != ',' && bytes[i] != '\n' && bytes[i] != '\r') {
          fail(source + ": line " + std::to_string(line) + ", " + field_label(rec.fields.size()) +
                   ": unexpected character '" + std::string(1, bytes[i]) +
                   "' after a closing quote",
               "a quoted field must end right before ',' or the line end; quotes inside it "
               "are written \"\"");
        }
      } else {
        while (i < n && bytes[i] != ',' && bytes[i] != '\n' && bytes[i] != '\r') {
          field += bytes[i++];
        }
      }
      rec.fields.push_back(std::move(field));
      field.clear();
      if (i < n && bytes[i] == ',') {
        ++i;
        continue;
      }
      // End of record: line break or end of input.
      if (i < n) {
        if (bytes[i] == '\r' && i + 1 < n && bytes[i + 1] == '\n') ++i;
        ++i;
        ++line;
      }
      done = true;
    }
    records.push_back(std::move(rec));
  }

  if (records.empty()) {
    fail(source + ": empty CSV file (no header row)", "the first line must name the columns");
  }
  CsvTable table;
  table.header = std::move(records.front().fields);
  for (size_t r = 1; r < records.size(); ++r) {
    CsvRow& row = records[r];
    row.row = r;
    if (row.fields.size() != table.header.size()) {
      fail(source + ": row " + std::to_string(r) + " (line " + std::to_string(row.line) +
               "): " + std::to_string(row.fields.size()) + " fields, but the header " +
               table.header_list() + " has " + std::to_string(table.header.size()),
           "fields that contain ',' or line breaks must be in double quotes");
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

}  // namespace steer
