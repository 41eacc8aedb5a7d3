// SentencePiece-style merging (see spm.h).
#include "tokenizer/spm.h"

#include <cstdio>
#include <queue>

#include "tokenizer/utf8.h"

namespace steer {

SpmModel::SpmModel(const std::unordered_map<std::string, int32_t>& token_to_id,
                   const std::vector<float>& scores, int32_t unk_id)
    : token_to_id_(token_to_id), scores_(scores) {
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "<0x%02X>", b);
    auto it = token_to_id.find(hex);
    if (it == token_to_id.end()) it = token_to_id.find(std::string(1, static_cast<char>(b)));
    byte_tokens_[b] = it != token_to_id.end() ? it->second : unk_id;
  }
}

void SpmModel::encode(std::string_view text, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t prev;
    int32_t next;
    uint32_t start;
    uint32_t len;  // 0 once merged into its left neighbour
  };
  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < text.size();) {
    const size_t len = std::min<size_t>(utf8::sequence_length(static_cast<uint8_t>(text[pos])),
                                        text.size() - pos);
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, index + 1, static_cast<uint32_t>(pos), static_cast<uint32_t>(len)});
    pos += len;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  struct Bigram {
    float score;
    int32_t left;
    int32_t right;
    uint32_t size;  // bytes of the merged text when queued
  };
  // Highest score first, then leftmost.
  auto worse = [](const Bigram& a, const Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Bigram, std::vector<Bigram>, decltype(worse)> queue(worse);
  std::string scratch;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t size = symbols[left].len + symbols[right].len;
    scratch.assign(text.data() + symbols[left].start, size);
    auto it = token_to_id_.find(scratch);
    if (it == token_to_id_.end()) return;
    const float score = it->second < static_cast<int32_t>(scores_.size()) ? scores_[it->second] : 0.0f;
    queue.push({score, left, right, size});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& left = symbols[b.left];
    Symbol& right = symbols[b.right];
    // Stale: either side merged elsewhere since the pair was queued.
    if (left.len == 0 || right.len == 0 || left.len + right.len != b.size || left.next != b.right) {
      continue;
    }
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    scratch.assign(text.data() + s.start, s.len);
    auto it = token_to_id_.find(scratch);
    if (it != token_to_id_.end()) {
      out.push_back(it->second);
      continue;
    }
    for (uint32_t j = 0; j < s.len; ++j) {
      const int32_t id = byte_tokens_[static_cast<uint8_t>(text[s.start + j])];
      if (id >= 0) out.push_back(id);
    }
  }
}

}  // namespace steer
