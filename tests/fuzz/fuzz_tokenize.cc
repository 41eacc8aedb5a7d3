// Tokenizer encode/decode of arbitrary bytes with real vocabularies: SentencePiece (stories260K
// GGUF), byte-level BPE (SmolLM2's tokenizer.json) and byte-fallback BPE. The first byte picks
// the tokenizer and the options; the rest is encoded (invalid UTF-8 included) and also read as
// token ids to decode (ids out of range must be a steer::Error, never a read past the vocabulary).
#include <cstring>
#include <vector>

#include "fuzz_target.h"
#include "fuzz_paths.h"
#include "steer/error.h"
#include "steer/gguf.h"
#include "steer/tokenizer.h"

namespace {

const std::vector<steer::Tokenizer>& tokenizers() {
  static const std::vector<steer::Tokenizer> all = [] {
    std::vector<steer::Tokenizer> t;
    t.push_back(steer::Tokenizer::from_gguf(*steer::GGUFFile::open(steer::fuzz::tiny_model_path())));
    t.push_back(steer::Tokenizer::from_hf_dir(steer::fuzz::test_data("tokenizer/hf/smollm2-135m")));
    t.push_back(steer::Tokenizer::from_hf_dir(steer::fuzz::test_data("tokenizer/hf/bytefallback-bpe")));
    return t;
  }();
  return all;
}

}  // namespace

STEER_FUZZ_TARGET(tokenize) {
  const auto& all = tokenizers();
  if (size < 1) return;
  const steer::Tokenizer& tok = all[data[0] % all.size()];
  const bool add_bos = data[0] & 0x10, parse_special = data[0] & 0x20, skip_special = data[0] & 0x40;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<int32_t> ids = tok.encode(text, add_bos, parse_special);
  (void)tok.decode(ids, skip_special);
  (void)tok.encode_continuation(text, parse_special);
  std::vector<int32_t> raw((size - 1) / 4);
  if (!raw.empty()) std::memcpy(raw.data(), data + 1, raw.size() * 4);
  try {
    (void)tok.decode(raw, skip_special);
  } catch (const steer::Error&) {
  }
}
