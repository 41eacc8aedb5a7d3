// SentencePiece-style tokenization (tokenizer.ggml.model = "llama"), as llama.cpp's
// llm_tokenizer_spm_session: the text (spaces already written as "▁") is split into UTF-8
// characters; repeatedly the adjacent pair whose concatenation is a token with the highest
// score is merged (ties: leftmost); every final symbol that is not a token is emitted as
// byte tokens <0xXX> (or the single-byte token, or unk).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace steer {

class SpmModel {
 public:
  // All references must outlive the model.
  SpmModel(const std::unordered_map<std::string, int32_t>& token_to_id,
           const std::vector<float>& scores, int32_t unk_id);

  // Appends the ids of `text` (already escaped: ' ' → "▁", prefix space added).
  void encode(std::string_view text, std::vector<int32_t>& out) const;

  // Token for one raw byte (byte fallback); -1 if the vocabulary has none and no unk.
  int32_t byte_token(uint8_t byte) const { return byte_tokens_[byte]; }

 private:
  const std::unordered_map<std::string, int32_t>& token_to_id_;
  const std::vector<float>& scores_;
  int32_t byte_tokens_[256];
};

}  // namespace steer
