// VocabSpec: everything a tokenizer needs, as plain data, read from a GGUF file or a Hugging
// Face tokenizer.json — the one place where the two formats meet.
//
//   auto gguf = steer::GGUFFile::open("model.gguf");
//   steer::VocabSpec spec = steer::vocab_from_gguf(*gguf);
//   steer::Tokenizer tok = steer::Tokenizer::from_spec(spec);
//
// Two tokenizer models are supported:
//   "gpt2"  byte-level BPE: tokens are strings over GPT-2's byte→unicode alphabet, merged by
//           rank (`merges`), after the regex word split named by `pre` (or `pre_regexes`).
//   "llama" SentencePiece-style: characters merged greedily by token score, spaces written
//           as "▁", bytes without a token fall back to "<0xXX>" tokens. With non-empty
//           `merges` (a Hugging Face BPE with byte_fallback) pairs merge by merge rank instead.
// WordPiece ("bert"), Unigram ("t5") and the rest are refused with a steer::Error.
// Failure: the readers throw steer::Error naming the file and the key that is missing/bad.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace steer {

class GGUFFile;

// Token types as GGUF stores them (tokenizer.ggml.token_type; llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // special tokens (<|im_end|>, <bos>): matched in text only when asked
  kUserDefined = 4,  // added tokens that are always matched in text before BPE
  kUnused = 5,
  kByte = 6,         // SentencePiece byte-fallback tokens <0x00>..<0xFF>
};

struct VocabSpec {
  std::string model = "gpt2";            // "gpt2" (byte-level BPE) or "llama" (SPM)
  std::string pre = "default";           // tokenizer.ggml.pre (gpt2 only)
  std::vector<std::string> pre_regexes;  // explicit split regexes; empty → derived from `pre`

  std::vector<std::string> tokens;       // [n_vocab] token texts
  std::vector<float> scores;             // [n_vocab] SPM merge scores (empty for gpt2)
  std::vector<int32_t> token_types;      // [n_vocab] TokenType values (empty → all normal)
  std::vector<std::string> merges;       // "left right", rank = position (gpt2; llama from HF)

  // Special ids, -1 when absent.
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t eot_id = -1;  // end of turn (<|im_end|>, <end_of_turn>, <|eot_id|>)
  int32_t unk_id = -1;
  int32_t pad_id = -1;

  bool add_bos = false;           // encode(add_bos=true) prepends BOS only if this is set
  bool add_eos = false;
  bool add_space_prefix = false;  // SPM: a space is put before text at the start / after a special token
  bool space_prefix_at_start_only = false;  // add_space_prefix only before the very first text (HF Metaspace "first")
  bool split_on_space_marker = false;  // llama + merges: words start at each "▁" (HF Metaspace split)
  bool ignore_merges = false;     // gpt2: a word that is itself a token is not merged (llama3)
  bool clean_spaces = false;      // decode removes spaces before . , ! ? and in " 's" etc. (llama.cpp rules)

  std::string chat_template;      // the model's Jinja template text ("" when it has none)
  std::string source;             // where this came from (file path), for error messages
};

// Reads tokenizer.ggml.* from a GGUF file. Defaults follow llama.cpp's loader (e.g. SPM
// vocabularies add BOS and a space prefix unless the file says otherwise; the `pre` name
// sets ignore_merges/clean_spaces/add_bos as llama.cpp does).
VocabSpec vocab_from_gguf(const GGUFFile& file);

// Reads `dir`/tokenizer.json (model, added tokens, pre-tokenizer) and, when present,
// `dir`/tokenizer_config.json (bos/eos/pad/unk tokens, add_bos_token, add_eos_token,
// clean_up_tokenization_spaces, chat_template) and `dir`/chat_template.jinja.
// Byte-level BPE becomes model "gpt2" with the pre-tokenizer's own regexes; a BPE with
// byte_fallback (SentencePiece-converted, no ByteLevel) becomes model "llama" with scores
// derived from merge ranks.
VocabSpec vocab_from_hf(const std::string& dir);

}  // namespace steer
