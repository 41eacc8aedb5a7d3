// steer::Tokenizer — text ↔ token ids for the models steer loads, matching llama.cpp's
// tokenizer (and so Hugging Face's) id for id.
//
//   steer::Tokenizer tok = steer::Tokenizer::from_gguf(*steer::GGUFFile::open(path));
//   std::vector<int32_t> ids = tok.encode("Hello world", /*add_bos=*/tok.add_bos_default());
//   std::string text = tok.decode(ids, /*skip_special=*/true);
//
// Encoding: special tokens in the text are cut out first — the longest token text wins,
// then shorter ones in what is left (llama.cpp's rule). User-defined tokens are always cut
// out; control tokens (<|im_start|>, <bos>, …) only when parse_special is true, otherwise
// their text is tokenized as ordinary text. The remaining text goes through the model's
// BPE (regex split, byte-level merges, per-word cache) or SPM (score merges, byte
// fallback, "▁" for spaces, a leading space when add_space_prefix and the text starts the
// input or follows a special token). Invalid UTF-8 in the input is replaced by U+FFFD for
// byte-level BPE (as llama.cpp does); SPM keeps the raw bytes and emits byte tokens.
//
// Decoding: each id becomes its piece (token_to_piece) and pieces are concatenated, with
// these rules, all taken from llama.cpp's detokenizer:
//   - byte-level BPE pieces are mapped back to raw bytes; SPM "▁" becomes a space and
//     <0xXX> becomes the byte;
//   - with skip_special, control and unknown tokens give no text (user-defined ones do);
//   - SPM with add_space_prefix: one leading space is removed from the first piece after
//     an optional leading BOS (so decode(encode(s)) == s);
//   - clean_spaces vocabularies (gpt-2 style) remove the space in " .", " ,", " !", " ?",
//     " 's", " 'm", " 're", " 've" and around a lone "'".
// The result is bytes; it may end inside a UTF-8 sequence when the ids do.
//
// Ownership and threads: a Tokenizer is a cheap handle to immutable shared data; copies share
// it. All methods are const and thread-safe (the BPE word cache is locked).
// Failure: loaders throw steer::Error naming the file/key; out-of-range ids throw.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "steer/vocab.h"

namespace steer {

class GGUFFile;

class Tokenizer {
 public:
  static Tokenizer from_gguf(const GGUFFile& file);
  static Tokenizer from_hf_dir(const std::string& dir);
  static Tokenizer from_spec(VocabSpec spec);

  // Token ids of `text`. add_bos = true adds the special tokens the model itself adds
  // (llama.cpp's add_special, Hugging Face's add_special_tokens): BOS when the vocabulary's
  // add_bos flag is set (add_bos_default()), EOS when its add_eos flag is set; false adds none.
  std::vector<int32_t> encode(const std::string& text, bool add_bos = false,
                              bool parse_special = true) const;

  // As encode(text, false, parse_special) for text that continues earlier text (a chat
  // template's tail): no BOS, and no SentencePiece space prefix at its start (one still
  // follows each special token inside it, as in whole-text encoding).
  std::vector<int32_t> encode_continuation(const std::string& text, bool parse_special = true) const;

  // Text of `ids` (see the rules above). Throws steer::Error for an id outside the vocabulary.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

  // The text one token stands for (bytes for byte-level BPE, "▁"→" " for SPM, the token text
  // for special tokens). Throws for an out-of-range id.
  std::string token_to_piece(int32_t id) const;
  // The token's own vocabulary string (e.g. "Ġthe", "▁the", "<|im_end|>").
  const std::string& token_text(int32_t id) const;
  // Id of a vocabulary string (exact match on the stored token text), -1 if absent.
  int32_t token_id(const std::string& token_text) const;

  int32_t bos_id() const;  // -1 when the vocabulary has none
  int32_t eos_id() const;
  int32_t eot_id() const;
  int32_t pad_id() const;
  int32_t unk_id() const;
  // Ids that end generation: eos, eot and the end-of-turn tokens present in the vocabulary
  // (<|im_end|>, <end_of_turn>, <|eot_id|>, <|endoftext|>, <|end|>, <|eom_id|>), sorted.
  std::vector<int32_t> stop_ids() const;
  bool add_bos_default() const;
  int32_t vocab_size() const;
  bool is_special(int32_t id) const;  // control, unknown or user-defined
  TokenType token_type(int32_t id) const;

  const VocabSpec& spec() const;        // what the tokenizer was built from
  const std::string& chat_template_text() const;

 private:
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl);
  std::vector<int32_t> encode_impl(const std::string& text, bool add_bos, bool parse_special,
                                   bool continuation) const;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace steer
