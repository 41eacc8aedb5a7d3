// load_stereoset: StereoSet intrasentence items, from EditBias's restructured files or from
// StereoSet's own dev/test.json (contract in include/steer/prompts.h).
#include <nlohmann/json.hpp>

#include "steer/error.h"
#include "data/source_text.h"
#include "steer/prompts.h"

namespace steer {
namespace {

using nlohmann::json;

const char* kHint =
    "StereoSet intrasentence items have id, target, bias_type, context and "
    "the stereotype, anti-stereotype and unrelated sentences";

std::string get_string(const json& obj, const std::string& field, const std::string& source,
                       const std::string& where) {
  if (!obj.is_object()) {
    fail(source + ": " + where + " is " + json_kind(obj) + ", expected an object", kHint);
  }
  auto it = obj.find(field);
  if (it == obj.end()) {
    fail(source + ": " + where + ": missing field '" + field + "' (fields " + json_key_list(obj) +
             ")",
         kHint);
  }
  if (!it->is_string()) {
    fail(source + ": " + where + ": field '" + field + "' is " + json_kind(*it) +
             ", expected a string",
         kHint);
  }
  return it->get<std::string>();
}

StereoItem read_item(const json& item, const std::string& source, const std::string& where) {
  StereoItem s;
  s.id = get_string(item, "id", source, where);
  s.target = get_string(item, "target", source, where);
  s.bias_type = get_string(item, "bias_type", source, where);
  s.context = get_string(item, "context", source, where);
  if (item.contains("data")) {
    // EditBias: data: {stereotype: {sentence, id}, anti-stereotype: …, unrelated: …}
    const json& data = item["data"];
    if (!data.is_object()) {
      fail(source + ": " + where + ": field 'data' is " + json_kind(data) + ", expected an object",
           kHint);
    }
    auto sentence = [&](const char* label) -> std::string {
      if (!data.contains(label)) {
        fail(source + ": " + where + ": missing field 'data." + label + "' (fields " +
                 json_key_list(data) + ")",
             kHint);
      }
      return get_string(data[label], "sentence", source, where + ", field 'data." + label + "'");
    };
    s.stereotype = sentence("stereotype");
    s.anti_stereotype = sentence("anti-stereotype");
    s.unrelated = sentence("unrelated");
  } else if (item.contains("sentences")) {
    // StereoSet: sentences: [{sentence, id, labels, gold_label}, …]
    const json& sentences = item["sentences"];
    if (!sentences.is_array()) {
      fail(source + ": " + where + ": field 'sentences' is " + json_kind(sentences) +
               ", expected a list",
           kHint);
    }
    for (size_t i = 0; i < sentences.size(); ++i) {
      std::string at = where + ", sentences[" + std::to_string(i + 1) + "]";
      std::string label = get_string(sentences[i], "gold_label", source, at);
      std::string text = get_string(sentences[i], "sentence", source, at);
      if (label == "stereotype")
        s.stereotype = text;
      else if (label == "anti-stereotype")
        s.anti_stereotype = text;
      else if (label == "unrelated")
        s.unrelated = text;
      else {
        fail(source + ": " + at + ": unknown gold_label '" + label + "'",
             "gold_label is stereotype, anti-stereotype or unrelated");
      }
    }
    for (const auto& [label, text] :
         {std::pair<const char*, const std::string&>{"stereotype", s.stereotype},
          {"anti-stereotype", s.anti_stereotype},
          {"unrelated", s.unrelated}}) {
      if (text.empty()) {
        fail(source + ": " + where + ": no sentence with gold_label '" + label + "'", kHint);
      }
    }
  } else {
    fail(source + ": " + where + ": missing field 'data' (or 'sentences'); fields " +
             json_key_list(item),
         kHint);
  }
  return s;
}

}  // namespace

std::vector<StereoItem> load_stereoset(const std::string& path) {
  std::string bytes = read_file_bytes(path, "StereoSet file");
  json doc = parse_json_text(bytes, path);
  const json* list = &doc;
  std::string prefix = "item ";
  if (doc.is_object()) {
    // StereoSet's own file: {version, data: {intersentence: […], intrasentence: […]}}
    if (!doc.contains("data") || !doc["data"].is_object() ||
        !doc["data"].contains("intrasentence")) {
      fail(path +
               ": expected a JSON list of items or {data: {intrasentence: […]}}, found an "
               "object with fields " +
               json_key_list(doc),
           kHint);
    }
    list = &doc["data"]["intrasentence"];
    prefix = "data.intrasentence item ";
  }
  if (!list->is_array()) {
    fail(path + ": expected a JSON list of StereoSet items, found " + json_kind(*list), kHint);
  }
  std::vector<StereoItem> items;
  for (size_t i = 0; i < list->size(); ++i) {
    items.push_back(read_item((*list)[i], path, prefix + std::to_string(i + 1)));
  }
  if (items.empty()) fail(path + ": no StereoSet items found", kHint);
  return items;
}

}  // namespace steer
