// Adversarial suffixes from a file (steer/suffix.h: load_suffixes).
#include <filesystem>

#include "io/read_file.h"
#include "steer/error.h"
#include "steer/prompts.h"
#include "steer/suffix.h"

namespace steer {
namespace {

// The suffix a wrapping template adds after its leading placeholder; "" when it has none.
std::string suffix_of_template(const std::string& tmpl) {
  for (const char* placeholder : {"{forbidden_prompt}", "{prompt}"}) {
    const std::string p = placeholder;
    if (tmpl.compare(0, p.size(), p) == 0) {
      std::string rest = tmpl.substr(p.size());
      const size_t start = rest.find_first_not_of(" \t\n");
      return start == std::string::npos ? std::string() : rest.substr(start);
    }
  }
  return {};
}

}  // namespace

std::vector<NamedSuffix> load_suffixes(const std::string& path, const std::string& only_prefix) {
  std::vector<NamedSuffix> out;
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".json") {
    const nlohmann::json j = read_json_file(path, "suffix file");
    if (j.is_object()) {
      for (const auto& [name, value] : j.items()) {
        if (name.compare(0, only_prefix.size(), only_prefix) != 0) continue;
        if (!value.is_string()) fail(path + ": entry '" + name + "' is not a string", "each entry is a template text");
        const std::string suffix = suffix_of_template(value.get<std::string>());
        if (suffix.empty())
          fail(path + ": entry '" + name + "' does not start with {forbidden_prompt} or {prompt} followed by a suffix",
               "a suffix is the text after the request; give wrapping templates to `steer jailbreak` instead");
        out.push_back({name, suffix});
      }
    } else if (j.is_array()) {
      for (size_t i = 0; i < j.size(); ++i) {
        if (!j[i].is_string() || j[i].get<std::string>().empty())
          fail(path + ": item " + std::to_string(i + 1) + " is not a non-empty string");
        out.push_back({"suffix " + std::to_string(i + 1), j[i].get<std::string>()});
      }
    } else {
      fail(path + ": expected a JSON object {name: template} or a list of strings");
    }
  } else {
    const std::vector<std::string> lines = read_nonempty_lines(path, "suffix file");
    for (size_t i = 0; i < lines.size(); ++i) out.push_back({"suffix " + std::to_string(i + 1), lines[i]});
  }
  if (out.empty())
    fail(path + ": no suffix" + (only_prefix.empty() ? std::string() : " in entries named " + only_prefix + "*"));
  return out;
}

}  // namespace steer
