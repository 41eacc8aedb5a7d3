// BPE merging by rank, in two flavours:
//   byte-level (tokenizer.ggml.model = "gpt2"): regex word split, GPT-2 byte→unicode mapping,
//     merges inside each word — llama.cpp's llm_tokenizer_bpe_session;
//   character-level with byte fallback (a Hugging Face BPE converted from SentencePiece):
//     the caller passes "▁"-escaped words; merges run over their UTF-8 characters.
//
// Merge order: the adjacent pair with the lowest merge rank is merged first; equal ranks go
// left to right. A finished symbol that is not a token is emitted byte by byte: byte-level
// looks up each byte-level character as a token, character-level uses <0xXX> tokens; the
// unknown token stands in when neither exists (llama.cpp drops such bytes silently).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretokenizer.h"

namespace steer {

class BpeModel {
 public:
  struct Options {
    bool byte_level = true;
    std::vector<std::string> regexes;  // byte-level word split
    bool ignore_merges = false;        // a word that is itself a token is not merged
    int32_t unk_id = -1;
    std::array<int32_t, 256> byte_tokens{};  // character-level fallback (-1: none)
  };
  // `token_to_id` must outlive the model. Throws steer::Error on a malformed merge.
  BpeModel(const std::unordered_map<std::string, int32_t>& token_to_id,
           const std::vector<std::string>& merges, Options options, const std::string& source);

  // Byte-level: appends the ids of raw (non-special) text.
  void encode(std::string_view text, std::vector<int32_t>& out) const;
  // Character-level: appends the ids of one word (already "▁"-escaped).
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

 private:
  void merge_word(const std::string& word, std::vector<int32_t>& out) const;

  struct Merge {
    int32_t rank;
    int32_t result;  // token id of the merged text
  };
  const std::unordered_map<std::string, int32_t>& token_to_id_;
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) → merge
  Options options_;
  std::unique_ptr<PreTokenizer> pre_;  // byte-level only

  // Word → ids. Words repeat a lot in real text; the cache makes long inputs cheap.
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace steer
