// Jailbreak class templates (steer/jailbreak.h): the JSON templates file, placeholder rendering,
// and the byte-level encodings the templates use (base64, leetspeak, disemvowel).
#include <cctype>
#include <nlohmann/json.hpp>

#include "data/embedded_prompts.h"
#include "data/source_text.h"
#include "io/read_file.h"
#include "steer/error.h"
#include "steer/jailbreak.h"

namespace steer {
namespace {

// The forms a placeholder takes, after "{<base>": "}" or "_<form>}".
const std::vector<std::string>& placeholder_forms() {
  static const std::vector<std::string> kForms = {"", "_base64", "_leetspeak", "_disemvowel", "_part1", "_part2"};
  return kForms;
}

// The request split in two at the middle word boundary (the paper's payload split): part1 holds
// the first half of the words (the larger half when their count is odd).
std::pair<std::string, std::string> split_payload(const std::string& p) {
  std::vector<size_t> spaces;
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] == ' ') spaces.push_back(i);
  if (spaces.empty()) {
    const size_t mid = p.size() / 2;
    return {p.substr(0, mid), p.substr(mid)};
  }
  const size_t cut = spaces[spaces.size() / 2];
  return {p.substr(0, cut), p.substr(cut + 1)};
}

std::string form_value(const std::string& form, const std::string& prompt) {
  if (form.empty()) return prompt;
  if (form == "_base64") return base64_encode(prompt);
  if (form == "_leetspeak") return leetspeak(prompt);
  if (form == "_disemvowel") return disemvowel(prompt);
  auto [a, b] = split_payload(prompt);
  return form == "_part1" ? a : b;
}

// Each "{<base>…" occurrence in the template: checks it is a known form; counts them.
size_t check_placeholders(const std::string& text, const std::string& base, const std::string& where) {
  const std::string open = "{" + base;
  size_t n = 0;
  for (size_t pos = text.find(open); pos != std::string::npos; pos = text.find(open, pos + 1)) {
    const size_t close = text.find('}', pos);
    const std::string tail = close == std::string::npos ? "" : text.substr(pos + open.size(), close - pos - open.size());
    bool known = false;
    for (const std::string& f : placeholder_forms()) known |= close != std::string::npos && tail == f;
    if (!known) {
      // "{prompts}" or "{prompt" at the end: not ours unless it looks like a form ("_…").
      if (close != std::string::npos && !tail.empty() && tail[0] == '_')
        fail(where + ": unknown placeholder {" + base + tail + "}",
             "placeholders: {" + base + "}, {" + base + "_base64}, {" + base + "_leetspeak}, {" + base +
                 "_disemvowel}, {" + base + "_part1}, {" + base + "_part2}");
      continue;
    }
    ++n;
  }
  return n;
}

}  // namespace

std::string base64_encode(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = uint32_t(uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) n |= uint32_t(uint8_t(in[i + 1])) << 8;
    if (i + 2 < in.size()) n |= uint32_t(uint8_t(in[i + 2]));
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

std::string base64_decode(const std::string& in) {
  auto value = [&](char c, size_t at) -> uint32_t {
    if (c >= 'A' && c <= 'Z') return uint32_t(c - 'A');
    if (c >= 'a' && c <= 'z') return uint32_t(c - 'a' + 26);
    if (c >= '0' && c <= '9') return uint32_t(c - '0' + 52);
    if (c == '+') return 62;
    if (c == '/') return 63;
    fail("base64: byte " + std::to_string(at) + " ('" + std::string(1, c) + "') is not in the base64 alphabet");
  };
  if (in.size() % 4 != 0) fail("base64: length " + std::to_string(in.size()) + " is not a multiple of 4");
  std::string out;
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    const int pad = (in[i + 3] == '=') + (in[i + 2] == '=');
    if (pad && !last) fail("base64: padding before the end, at byte " + std::to_string(i));
    if (in[i + 2] == '=' && in[i + 3] != '=') fail("base64: bad padding at byte " + std::to_string(i + 2));
    uint32_t n = value(in[i], i) << 18 | value(in[i + 1], i + 1) << 12;
    if (pad < 2) n |= value(in[i + 2], i + 2) << 6;
    if (pad < 1) n |= value(in[i + 3], i + 3);
    out += char((n >> 16) & 255);
    if (pad < 2) out += char((n >> 8) & 255);
    if (pad < 1) out += char(n & 255);
  }
  return out;
}

std::string leetspeak(const std::string& text) {
  std::string out = text;
  for (char& c : out) switch (std::tolower(static_cast<unsigned char>(c))) {
      case 'a': c = '4'; break;
      case 'e': c = '3'; break;
      case 'i': c = '1'; break;
      case 'o': c = '0'; break;
      case 's': c = '5'; break;
      case 't': c = '7'; break;
      default: break;
    }
  return out;
}

std::string unleetspeak(const std::string& text) {
  std::string out = text;
  for (char& c : out) switch (c) {
      case '4': c = 'a'; break;
      case '3': c = 'e'; break;
      case '1': c = 'i'; break;
      case '0': c = 'o'; break;
      case '5': c = 's'; break;
      case '7': c = 't'; break;
      default: break;
    }
  return out;
}

std::string disemvowel(const std::string& text) {
  std::string out;
  for (char c : text)
    switch (std::tolower(static_cast<unsigned char>(c))) {
      case 'a': case 'e': case 'i': case 'o': case 'u': break;
      default: out += c;
    }
  return out;
}

std::string render_jailbreak(const JailbreakClass& c, const std::string& prompt) {
  const std::string open = "{" + c.placeholder;
  if (check_placeholders(c.text, c.placeholder, "jailbreak class \"" + c.name + "\"") == 0)
    fail("jailbreak class \"" + c.name + "\": the template has no {" + c.placeholder + "} placeholder");
  std::string out;
  size_t pos = 0;
  while (pos < c.text.size()) {
    const size_t at = c.text.find(open, pos);
    if (at == std::string::npos) break;
    const size_t close = c.text.find('}', at);
    const std::string form = close == std::string::npos ? "#" : c.text.substr(at + open.size(), close - at - open.size());
    bool known = false;
    for (const std::string& f : placeholder_forms()) known |= form == f;
    out.append(c.text, pos, at - pos);
    if (known) {
      out += form_value(form, prompt);
      pos = close + 1;
    } else {
      out += '{';
      pos = at + 1;
    }
  }
  out.append(c.text, pos, std::string::npos);
  return out;
}

bool is_identity_template(const JailbreakClass& c) { return c.text == "{" + c.placeholder + "}"; }

std::vector<JailbreakClass> parse_jailbreak_templates(const std::string& json_text, const std::string& source,
                                                      const std::string& placeholder) {
  if (placeholder.empty()) fail(source + ": the placeholder name is empty");
  nlohmann::ordered_json j;  // file order is the classes' order
  try {
    j = nlohmann::ordered_json::parse(json_text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(source + ": bad JSON at byte " + std::to_string(e.byte) + ": " + json_error_text(e),
         "a templates file is one JSON object {\"name\": \"template with {" + placeholder + "}\", ...}");
  } catch (const nlohmann::json::exception& e) {  // a number beyond double's range
    fail(source + ": bad JSON: " + json_error_text(e));
  }
  if (!j.is_object())
    fail(source + ": a templates file must be a JSON object {name: template}, got " + json_kind(j));
  if (j.empty()) fail(source + ": the templates file has no entries");
  std::vector<JailbreakClass> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string where = source + ": entry \"" + it.key() + "\"";
    if (it.key().empty()) fail(source + ": an entry has an empty name");
    if (!it.value().is_string()) fail(where + " must be a string (the template), got " + json_kind(it.value()));
    JailbreakClass c{it.key(), it.value().get<std::string>(), placeholder};
    if (check_placeholders(c.text, placeholder, where) == 0)
      fail(where + " has no {" + placeholder + "} placeholder", "the template must say where the request goes");
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<JailbreakClass> load_jailbreak_templates(const std::string& path, const std::string& placeholder) {
  return parse_jailbreak_templates(read_regular_file(path, "templates file", size_t(16) << 20), path, placeholder);
}

std::vector<JailbreakClass> default_jailbreak_classes() {
  return parse_jailbreak_templates(embedded_prompt_file("jailbreak_templates.json"),
                                   "builtin:data/prompts/jailbreak_templates.json");
}

std::vector<JailbreakClass> merge_jailbreak_classes(std::vector<JailbreakClass> base,
                                                    const std::vector<JailbreakClass>& extra) {
  for (const JailbreakClass& e : extra) {
    bool replaced = false;
    for (JailbreakClass& b : base)
      if (b.name == e.name) b = e, replaced = true;
    if (!replaced) base.push_back(e);
  }
  return base;
}

}  // namespace steer
