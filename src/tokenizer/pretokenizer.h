// Pre-tokenization for byte-level BPE: the regex splits that cut text into words before
// merges run, chosen by the GGUF key `tokenizer.ggml.pre` (llama.cpp's names) or read from a
// Hugging Face tokenizer.json.
//
// Semantics follow llama.cpp's unicode_regex_split: the regexes run in order; each one cuts
// every current piece into its matches *and* the gaps between them (Hugging Face's
// "Isolated" split behaviour), and matching never looks past the piece it runs on. PCRE2
// runs the original regex strings (UTF + Unicode properties, JIT where available), with
// one adjustment: `\s`/`\S` are rewritten to the whitespace set llama.cpp and Python use
// (PCRE2's own `\s` lacks U+0085).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace steer {

// What a `tokenizer.ggml.pre` name implies, as llama.cpp's vocabulary loader sets it.
struct PreTypeInfo {
  std::vector<std::string> regexes;  // applied in order
  bool clean_spaces = true;          // detokenizer removes " ." style spaces (clean_up_tokenization_spaces)
  bool ignore_merges = false;        // a word that is itself a token is emitted whole
  bool add_bos = false;              // BOS added by default
};

// Throws steer::Error for a name llama.cpp does not know (or one we do not implement).
PreTypeInfo pre_type_info(const std::string& pre_name);

// The GPT-2 regex (also the ByteLevel pre-tokenizer's built-in regex in tokenizers).
extern const char* const kGpt2Regex;

class PreTokenizer {
 public:
  // Compiles every regex (throws steer::Error naming the regex on a syntax error).
  explicit PreTokenizer(std::vector<std::string> regexes);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Splits valid UTF-8 `text` (see utf8::sanitize) into non-empty views into `text`
  // whose concatenation is `text`. Thread-safe.
  std::vector<std::string_view> split(std::string_view text) const;

  const std::vector<std::string>& regexes() const { return regexes_; }

 private:
  struct Compiled;
  std::vector<std::string> regexes_;
  std::vector<std::unique_ptr<Compiled>> compiled_;
};

}  // namespace steer
