// Pre-tokenizer regexes per `tokenizer.ggml.pre` and the PCRE2 splitter (see pretokenizer.h).
//
// The regex lists are those llama.cpp's llm_tokenizer_bpe uses (src/llama-vocab.cpp, mid 2025):
// most are the tokenizer.json patterns of the original models; where llama.cpp rewrote a
// pattern for std::regex (e.g. `(?i:'s|…)` → `(?:'[sS]|…)`) we keep its rewrite, since both
// mean the same and the test vectors come from llama.cpp.
#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <map>

#include "steer/error.h"
#include "tokenizer/utf8.h"

namespace steer {

const char* const kGpt2Regex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

namespace {

const char* const kLlama3Regex =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kQwen2Regex =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

std::vector<std::string> regexes_of(const std::string& kind) {
  if (kind == "default") {
    return {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2Regex, "\\p{N}+", "[0-9][0-9][0-9]"};
  }
  if (kind == "gpt2") return {kGpt2Regex};
  if (kind == "llama3") return {kLlama3Regex};
  if (kind == "qwen2") return {kQwen2Regex};
  if (kind == "starcoder") return {"\\p{N}", kGpt2Regex};
  if (kind == "falcon") {
    return {"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2Regex, "[0-9][0-9][0-9]"};
  }
  if (kind == "deepseek-llm") {
    return {
        "[\r\n]",
        "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}"
        "\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}"
        "\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-"
        "\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}"
        "\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-"
        "\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}"
        "\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}"
        "\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}"
        "\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-"
        "\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}"
        "\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}"
        "\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}"
        "\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-"
        "\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}"
        "\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"
        "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}"
        "\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
        "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-"
        "\\x{3002}]+",
        "\\s+$",
        "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
        "\\p{N}+",
    };
  }
  if (kind == "deepseek-coder") {
    return {
        "[\r\n]",
        "\\s?\\p{L}+",
        "\\s?\\p{P}+",
        "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
        "\\p{N}",
    };
  }
  if (kind == "deepseek-v3") {
    return {
        "\\p{N}{1,3}",
        "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    };
  }
  if (kind == "poro") return {" ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"};
  if (kind == "viking") return {" ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+", "\\p{N}"};
  if (kind == "chatglm4") {
    return {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
            "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"};
  }
  if (kind == "tekken") {
    return {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
            "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|"
            "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"};
  }
  if (kind == "gpt4o") {
    return {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"
            "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}|"
            " ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"};
  }
  if (kind == "chameleon") {
    return {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )",
            "\\p{N}", "[\\p{P}!-/:-@\\[-`{-~]", kGpt2Regex};
  }
  if (kind == "superbpe") return {"\\p{N}+", "(?=(\\d{3})+(?!\\d))"};
  if (kind == "bailingmoe") {
    return {"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"
            " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"};
  }
  if (kind == "seed-coder") {
    return {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
            "\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"};
  }
  return {};
}

struct PreName {
  const char* kind;      // regex list (regexes_of)
  bool clean_spaces;
  bool ignore_merges;
  bool add_bos;
};

// llama.cpp's `tokenizer.ggml.pre` names → regex list and flags (llama_vocab::impl::load).
const std::map<std::string, PreName>& pre_names() {
  static const std::map<std::string, PreName> names = {
      {"default", {"default", true, false, false}},
      {"llama3", {"llama3", true, true, true}},
      {"llama-v3", {"llama3", true, true, true}},
      {"llama-bpe", {"llama3", true, true, true}},
      {"falcon3", {"llama3", true, true, true}},
      {"falcon-h1", {"llama3", true, true, true}},
      {"pixtral", {"llama3", true, true, true}},
      {"midm-2.0", {"llama3", true, true, true}},
      {"lfm2", {"llama3", true, true, true}},
      {"dbrx", {"llama3", true, false, false}},
      {"smaug-bpe", {"llama3", true, false, false}},
      {"deepseek-llm", {"deepseek-llm", false, false, false}},
      {"deepseek-coder", {"deepseek-coder", false, false, false}},
      {"deepseek-v3", {"deepseek-v3", false, false, false}},
      {"falcon", {"falcon", true, false, false}},
      {"mpt", {"gpt2", true, false, false}},
      {"starcoder", {"starcoder", true, false, false}},
      {"gpt-2", {"gpt2", true, false, false}},
      {"phi-2", {"gpt2", true, false, false}},
      {"jina-es", {"gpt2", true, false, false}},
      {"jina-de", {"gpt2", true, false, false}},
      {"gigachat", {"gpt2", true, false, false}},
      {"jina-v2-es", {"gpt2", true, false, false}},
      {"jina-v2-de", {"gpt2", true, false, false}},
      {"a.x-4.0", {"gpt2", true, false, false}},
      {"jina-v1-en", {"gpt2", true, false, false}},
      {"jina-v2-code", {"gpt2", true, false, false}},
      {"roberta-bpe", {"gpt2", true, false, false}},
      {"exaone4", {"gpt2", true, false, false}},
      {"olmo", {"gpt2", true, false, false}},
      {"jais", {"gpt2", true, false, false}},
      {"trillion", {"gpt2", false, false, false}},
      {"refact", {"starcoder", true, false, false}},
      {"command-r", {"starcoder", false, false, false}},
      {"smollm", {"starcoder", false, false, false}},
      {"codeshell", {"starcoder", true, false, false}},
      {"exaone", {"starcoder", true, false, false}},
      {"minerva-7b", {"starcoder", true, false, false}},
      {"qwen2", {"qwen2", false, false, false}},
      {"deepseek-r1-qwen", {"qwen2", false, false, false}},
      {"megrez", {"qwen2", true, false, false}},
      {"stablelm2", {"qwen2", true, false, false}},
      {"hunyuan", {"qwen2", false, false, false}},
      {"poro-chat", {"poro", false, false, false}},
      {"bloom", {"poro", true, false, false}},
      {"gpt3-finnish", {"poro", true, false, false}},
      {"glm4", {"chatglm4", true, false, false}},
      {"chatglm-bpe", {"chatglm4", true, false, false}},
      {"viking", {"viking", false, false, false}},
      {"tekken", {"tekken", false, true, true}},
      {"chameleon", {"chameleon", false, false, true}},
      {"gpt-4o", {"gpt4o", false, false, false}},
      {"llama4", {"gpt4o", false, false, false}},
      {"superbpe", {"superbpe", false, false, false}},
      {"bailingmoe", {"bailingmoe", false, false, false}},
      {"seed-coder", {"seed-coder", false, false, false}},
  };
  return names;
}

// Whitespace as llama.cpp (unicode_set_whitespace) and Python's regex define it, written for
// use inside a character class.
const char* const kWhitespaceSet =
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
    "\\x{202F}\\x{205F}\\x{3000}";

// Rewrites `\s` (anywhere) and `\S` (outside classes) to kWhitespaceSet.
std::string rewrite_whitespace(const std::string& pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char d = pattern[i + 1];
      if (d == 's') {
        out += in_class ? std::string(kWhitespaceSet) : "[" + std::string(kWhitespaceSet) + "]";
      } else if (d == 'S' && !in_class) {
        out += "[^" + std::string(kWhitespaceSet) + "]";
      } else {
        out += c;
        out += d;
      }
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' first in a class (after an optional '^') is a literal.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

}  // namespace

PreTypeInfo pre_type_info(const std::string& pre_name) {
  const std::string name = pre_name.empty() ? "default" : pre_name;
  const auto& names = pre_names();
  auto it = names.find(name);
  if (it == names.end()) {
    fail("unknown pre-tokenizer type '" + name + "' (GGUF key tokenizer.ggml.pre)",
         "this tokenizer's word-splitting rules are not implemented; known names include "
         "default, gpt-2, llama-bpe, qwen2, smollm, starcoder, deepseek-llm, falcon, mpt");
  }
  PreTypeInfo info;
  info.regexes = regexes_of(it->second.kind);
  info.clean_spaces = it->second.clean_spaces;
  info.ignore_merges = it->second.ignore_merges;
  info.add_bos = it->second.add_bos;
  return info;
}

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() {
    if (code) pcre2_code_free(code);
  }
};

PreTokenizer::PreTokenizer(std::vector<std::string> regexes) : regexes_(std::move(regexes)) {
  for (const auto& source : regexes_) {
    const std::string pattern = rewrite_whitespace(source);
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    auto compiled = std::make_unique<Compiled>();
    compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &error,
                                   &error_offset, nullptr);
    if (!compiled->code) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof(message));
      fail("pre-tokenizer regex does not compile: '" + source + "': " +
               reinterpret_cast<const char*>(message) + " at offset " + std::to_string(error_offset),
           "check the pre_tokenizer pattern in tokenizer.json");
    }
    // JIT makes matching several times faster; without it (unsupported CPU) the
    // interpreter gives the same results.
    pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE);
    compiled_.push_back(std::move(compiled));
  }
}

PreTokenizer::~PreTokenizer() = default;

namespace {

// Advances one code point from `pos` in valid UTF-8.
size_t next_char(std::string_view s, size_t pos) {
  return std::min(s.size(), pos + utf8::sequence_length(static_cast<uint8_t>(s[pos])));
}

// Splits `piece` into regex matches and the gaps between them, appending to `out`.
void split_piece(const pcre2_code* code, pcre2_match_data* md, std::string_view piece,
                 std::vector<std::string_view>& out) {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
  const size_t n = piece.size();
  size_t gap_start = 0;
  size_t start = 0;
  uint32_t options = 0;
  while (start <= n) {
    int rc = pcre2_match(code, subject, n, start, options | PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      rc = pcre2_match(code, subject, n, start, options | PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md,
                       nullptr);
    }
    if (rc == PCRE2_ERROR_NOMATCH) {
      if (options != 0 && start < n) {
        // No non-empty match at the position of an empty one: move on one character.
        start = next_char(piece, start);
        options = 0;
        continue;
      }
      break;
    }
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof(message));
      fail(std::string("pre-tokenizer regex failed while matching: ") +
           reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t m0 = ov[0];
    const size_t m1 = ov[1];
    if (m0 > gap_start) out.push_back(piece.substr(gap_start, m0 - gap_start));
    if (m1 > m0) out.push_back(piece.substr(m0, m1 - m0));
    gap_start = m1;
    start = m1;
    // After an empty match, the next match may not be empty at the same place.
    options = (m1 == m0) ? (PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED) : 0;
    if (m1 == m0 && m1 == n) break;
  }
  if (gap_start < n) out.push_back(piece.substr(gap_start));
}

}  // namespace

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  if (text.empty()) return pieces;
  pieces.push_back(text);
  for (const auto& compiled : compiled_) {
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
        pcre2_match_data_create_from_pattern(compiled->code, nullptr), &pcre2_match_data_free);
    std::vector<std::string_view> next;
    next.reserve(pieces.size() * 2);
    for (auto piece : pieces) split_piece(compiled->code, md.get(), piece, next);
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace steer
