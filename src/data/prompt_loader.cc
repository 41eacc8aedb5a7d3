// load_prompts: instruction prompts from text, JSON, JSONL and CSV files, with presets for
// the standard harmful/harmless datasets (the contract is in include/steer/prompts.h).
// Every format is turned into a list of Records (one JSON object, JSON string, CSV row or
// text line) that know where they came from, so one extraction routine gives the same
// checks and the same error wording for all of them.
#include <cctype>
#include <nlohmann/json.hpp>

#include "steer/error.h"
#include "data/csv.h"
#include "data/sha256.h"
#include "data/source_text.h"
#include "steer/prompts.h"

namespace steer {
namespace {

using nlohmann::json;

// The fields of one standard dataset. Optional fields may be absent or null per record.
struct Preset {
  const char* name;
  const char* prompt;               // required
  const char* category;             // optional, "" = none
  const char* id;                   // optional, "" = none
  const char* context;              // HarmBench ContextString: put before the prompt
  const char* input;                // Alpaca input: put after the prompt
  std::vector<std::string> detect;  // all present → this preset is detected
};

// Detection order matters: JailbreakBench also has a "Behavior" column, and Alpaca files
// also have "instruction".
const std::vector<Preset>& presets() {
  static const std::vector<Preset> kPresets = {
      {"harmbench",
       "Behavior",
       "SemanticCategory",
       "BehaviorID",
       "ContextString",
       "",
       {"Behavior", "SemanticCategory"}},
      {"jailbreakbench", "Goal", "Category", "Behavior", "", "", {"Goal", "Category"}},
      {"advbench", "goal", "", "", "", "", {"goal"}},
      {"strongreject", "forbidden_prompt", "category", "", "", "", {"forbidden_prompt"}},
      {"alpaca", "instruction", "", "", "", "input", {"instruction", "input"}},
      {"refusal_direction", "instruction", "category", "", "", "", {"instruction"}},
  };
  return kPresets;
}

std::string preset_names() {
  std::string out;
  for (const Preset& p : presets()) out += (out.empty() ? "" : ", ") + std::string(p.name);
  return out;
}

const Preset* find_preset(const std::string& name) {
  for (const Preset& p : presets()) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

bool is_blank(const std::string& s) {
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// One item of the file: a CSV row, or a JSON value (object or string) from a list or a line.
struct Record {
  std::string where;  // "row 7 (line 12)", "item 3", "line 5"
  size_t ordinal;     // 1-based, for source_id
  const CsvTable* table = nullptr;
  const CsvRow* row = nullptr;
  const json* value = nullptr;
};

class Extractor {
 public:
  explicit Extractor(std::string source) : source_(std::move(source)) {}

  bool has(const Record& r, const std::string& field) const {
    if (r.table) return r.table->column(field) >= 0;
    return r.value->is_object() && r.value->contains(field);
  }

  // The field's text; "" when optional and absent or null.
  std::string get(const Record& r, const std::string& field, bool required) const {
    if (r.table) {
      int col = r.table->column(field);
      if (col < 0) {
        if (!required) return "";
        fail(source_ + ": missing column '" + field + "' in CSV header " + r.table->header_list(),
             hint_);
      }
      return r.row->fields[size_t(col)];
    }
    const json& v = *r.value;
    if (!v.is_object()) {
      fail(source_ + ": " + r.where + " is " + json_kind(v) + ", but field '" + field +
               "' needs an object",
           "a list of plain strings needs no field or preset");
    }
    auto it = v.find(field);
    if (it == v.end() || it->is_null()) {
      if (!required) return "";
      fail(source_ + ": " + r.where + ": " +
               (it == v.end()
                    ? "missing field '" + field + "' (the item has fields " + json_key_list(v) + ")"
                    : "field '" + field + "' is null"),
           hint_);
    }
    if (!it->is_string()) {
      fail(source_ + ": " + r.where + ": field '" + field + "' is " + json_kind(*it) +
               ", expected a string",
           "prompt, category and id fields must be JSON strings");
    }
    return it->get<std::string>();
  }

  void set_hint(std::string hint) { hint_ = std::move(hint); }
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::string hint_;
};

std::string field_hint() {
  return "pick the prompt field with --field NAME or a preset (" +
         preset_names() + ")";
}

FileFormat detect_format(const std::string& bytes, const std::string& source) {
  std::string ext = file_extension_lower(source);
  if (ext == ".txt") return FileFormat::kText;
  if (ext == ".json") return FileFormat::kJson;
  if (ext == ".jsonl" || ext == ".ndjson") return FileFormat::kJsonl;
  if (ext == ".csv") return FileFormat::kCsv;
  size_t i = 0;
  if (bytes.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;
  while (i < bytes.size() && std::isspace(static_cast<unsigned char>(bytes[i]))) ++i;
  if (i < bytes.size() && bytes[i] == '[') return FileFormat::kJson;
  if (i < bytes.size() && bytes[i] == '{') {
    return json::accept(bytes) ? FileFormat::kJson : FileFormat::kJsonl;
  }
  return FileFormat::kText;
}

// Text: one prompt per line.
void read_text(const std::string& bytes, const std::string& source, const std::string& name,
               std::vector<Prompt>* out) {
  size_t start = bytes.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  size_t line_no = 0;
  while (start <= bytes.size()) {
    size_t end = bytes.find('\n', start);
    if (end == std::string::npos) end = bytes.size();
    std::string line = bytes.substr(start, end - start);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line[first] != '#') {
      out->push_back({line, "", name + ":" + std::to_string(line_no)});
    }
    if (end == bytes.size()) break;
    start = end + 1;
  }
}

// Picks the preset for these records: the named one, or the first whose detect fields the
// first record has. nullptr means "plain strings" (only valid for JSON string items).
const Preset* choose_preset(const PromptFormat& format, const Record& first, const Extractor& ex) {
  if (!format.preset.empty()) {
    const Preset* p = find_preset(format.preset);
    if (!p) {
      fail("unknown prompt preset '" + format.preset + "'", "known presets: " + preset_names());
    }
    return p;
  }
  if (first.value && first.value->is_string()) return nullptr;
  for (const Preset& p : presets()) {
    bool all = true;
    for (const std::string& f : p.detect) all = all && ex.has(first, f);
    if (all) return &p;
  }
  std::string fields = first.table ? "the CSV header " + first.table->header_list()
                                   : first.where + " (fields " +
                                         (first.value->is_object() ? json_key_list(*first.value)
                                                                   : json_kind(*first.value)) +
                                         ")";
  fail(ex.source() + ": cannot tell which field holds the prompt: " + fields + " matches no preset",
       field_hint());
}

void extract(const std::vector<Record>& records, const PromptFormat& format,
             const std::string& name, Extractor& ex, std::vector<Prompt>* out) {
  if (records.empty()) return;
  ex.set_hint(field_hint());

  const Preset* preset = nullptr;
  std::string prompt_field, category_field, id_field, context_field, input_field;
  bool category_required = false;
  if (!format.field.empty()) {
    prompt_field = format.field;
    category_field = format.category_field;
    category_required = !category_field.empty();
    if (category_field.empty()) {
      if (ex.has(records.front(), "category"))
        category_field = "category";
      else if (ex.has(records.front(), "Category"))
        category_field = "Category";
    }
  } else {
    preset = choose_preset(format, records.front(), ex);
    if (preset) {
      prompt_field = preset->prompt;
      category_field = preset->category;
      id_field = preset->id;
      context_field = preset->context;
      input_field = preset->input;
      ex.set_hint("this file does not look like the '" + std::string(preset->name) + "' preset; " +
                  field_hint());
    }
  }

  for (const Record& r : records) {
    Prompt p;
    if (r.value && r.value->is_string()) {
      if (!prompt_field.empty()) {
        fail(ex.source() + ": " + r.where + " is a string, but the prompt field '" + prompt_field +
                 "' needs objects",
             "a list of plain strings needs no --field and no preset");
      }
      p.instruction = r.value->get<std::string>();
    } else if (r.value && prompt_field.empty()) {
      fail(
          ex.source() + ": " + r.where + " is " + json_kind(*r.value) + ", but item 1 was a string",
          "a list must hold only strings or only objects");
    } else {
      p.instruction = ex.get(r, prompt_field, true);
      if (!context_field.empty()) {
        std::string context = ex.get(r, context_field, false);
        if (!is_blank(context)) p.instruction = context + "\n\n---\n\n" + p.instruction;
      }
      if (!input_field.empty()) {
        std::string input = ex.get(r, input_field, false);
        if (!input.empty()) p.instruction += "\n\n" + input;
      }
      if (!category_field.empty()) p.category = ex.get(r, category_field, category_required);
      if (!id_field.empty()) p.source_id = ex.get(r, id_field, false);
    }
    if (is_blank(p.instruction)) {
      fail(ex.source() + ": " + r.where + ": " +
               (prompt_field.empty() ? std::string("the prompt") : "field '" + prompt_field + "'") +
               " is empty",
           "remove the item or fill in the prompt");
    }
    if (p.source_id.empty()) p.source_id = name + ":" + std::to_string(r.ordinal);
    out->push_back(std::move(p));
  }
}

}  // namespace

std::vector<std::string> PromptSet::instructions() const {
  std::vector<std::string> out;
  out.reserve(items.size());
  for (const Prompt& p : items) out.push_back(p.instruction);
  return out;
}

const std::vector<std::string>& prompt_presets() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const Preset& p : presets()) names.push_back(p.name);
    return names;
  }();
  return kNames;
}

FileFormat parse_file_format(const std::string& name, const std::string& option) {
  if (name == "auto" || name.empty()) return FileFormat::kAuto;
  if (name == "text" || name == "txt") return FileFormat::kText;
  if (name == "json") return FileFormat::kJson;
  if (name == "jsonl" || name == "ndjson") return FileFormat::kJsonl;
  if (name == "csv") return FileFormat::kCsv;
  fail(option + ": unknown file format '" + name + "'", "use one of auto, text, json, jsonl, csv");
}

PromptSet parse_prompts(const std::string& bytes, const std::string& source,
                        const PromptFormat& format) {
  if (!format.preset.empty() && !find_preset(format.preset)) {
    fail("unknown prompt preset '" + format.preset + "'", "known presets: " + preset_names());
  }
  PromptSet set;
  set.name = file_stem(source);
  set.path = source;
  set.sha256 = sha256_hex(bytes);
  const std::string name = file_name(source);

  FileFormat kind =
      format.format == FileFormat::kAuto ? detect_format(bytes, source) : format.format;
  if (kind == FileFormat::kText && (!format.field.empty() || !format.preset.empty())) {
    fail(source + ": a plain-text prompt file has no fields, but a " +
             (format.field.empty() ? "preset ('" + format.preset + "')"
                                   : "field ('" + format.field + "')") +
             " was given",
         "give the file a .json/.jsonl/.csv extension or set the format explicitly");
  }
  Extractor ex(source);
  switch (kind) {
    case FileFormat::kText:
      read_text(bytes, source, name, &set.items);
      break;
    case FileFormat::kJson: {
      json doc = parse_json_text(bytes, source);
      if (!doc.is_array()) {
        fail(source + ": expected a JSON list of prompts, found " + json_kind(doc) +
                 (doc.is_object() ? " with fields " + json_key_list(doc) : ""),
             "one JSON value per line is JSONL: use the .jsonl extension or --format jsonl");
      }
      std::vector<Record> records;
      for (size_t i = 0; i < doc.size(); ++i) {
        const json& v = doc[i];
        if (!v.is_string() && !v.is_object()) {
          fail(source + ": item " + std::to_string(i + 1) + " is " + json_kind(v) +
                   ", expected a string or an object",
               "a prompt file is a JSON list of strings or of objects");
        }
        records.push_back({"item " + std::to_string(i + 1), i + 1, nullptr, nullptr, &v});
      }
      extract(records, format, name, ex, &set.items);
      break;
    }
    case FileFormat::kJsonl: {
      std::vector<json> values;
      std::vector<Record> records;
      size_t start = 0, line_no = 0;
      while (start < bytes.size()) {
        size_t end = bytes.find('\n', start);
        if (end == std::string::npos) end = bytes.size();
        std::string line = bytes.substr(start, end - start);
        ++line_no;
        start = end + 1;
        if (is_blank(line)) continue;
        json v = parse_json_text(line, source, line_no);
        if (!v.is_string() && !v.is_object()) {
          fail(source + ": line " + std::to_string(line_no) + " is " + json_kind(v) +
                   ", expected a string or an object",
               "a JSONL prompt file has one JSON string or object per line");
        }
        values.push_back(std::move(v));
        records.push_back({"line " + std::to_string(line_no), line_no, nullptr, nullptr, nullptr});
      }
      for (size_t i = 0; i < records.size(); ++i) records[i].value = &values[i];
      extract(records, format, name, ex, &set.items);
      break;
    }
    case FileFormat::kCsv: {
      CsvTable table = parse_csv(bytes, source);
      std::vector<Record> records;
      for (const CsvRow& row : table.rows) {
        records.push_back(
            {"row " + std::to_string(row.row) + " (line " + std::to_string(row.line) + ")", row.row,
             &table, &row, nullptr});
      }
      if (records.empty()) {
        fail(source + ": the CSV file has a header " + table.header_list() + " but no rows",
             "a prompt file needs at least one prompt");
      }
      extract(records, format, name, ex, &set.items);
      break;
    }
    case FileFormat::kAuto:
      break;
  }
  if (set.items.empty()) {
    fail(source + ": no prompts found" + (bytes.empty() ? " (the file is empty)" : ""),
         "a prompt file needs at least one prompt (text files skip blank and '#' lines)");
  }
  return set;
}

PromptSet load_prompts(const std::string& path, const PromptFormat& format) {
  return parse_prompts(read_file_bytes(path, "prompt file"), path, format);
}

std::vector<std::string> read_nonempty_lines(const std::string& path, const std::string& what) {
  const std::string bytes = read_file_bytes(path, what);
  std::vector<std::string> lines;
  for (size_t start = 0; start < bytes.size();) {
    size_t end = bytes.find('\n', start);
    if (end == std::string::npos) end = bytes.size();
    if (end > start) lines.push_back(bytes.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace steer
