// Byte-level BPE (see bpe.h).
#include "tokenizer/bpe.h"

#include <queue>

#include "steer/error.h"
#include "tokenizer/utf8.h"

namespace steer {

namespace {
constexpr size_t kCacheLimit = 1 << 18;  // words; cleared when full
constexpr size_t kMaxCachedWord = 256;   // bytes
uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}
}  // namespace

BpeModel::BpeModel(const std::unordered_map<std::string, int32_t>& token_to_id,
                   const std::vector<std::string>& merges, Options options, const std::string& source)
    : token_to_id_(token_to_id), options_(std::move(options)) {
  if (options_.byte_level) pre_ = std::make_unique<PreTokenizer>(options_.regexes);
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& merge = merges[rank];
    // "left right"; the separator is the first space after the first character, so a
    // left part that is itself a space (some vocabularies) still parses.
    const size_t sep = merge.find(' ', 1);
    if (sep == std::string::npos) {
      fail(source + ": tokenizer merge " + std::to_string(rank) + " ('" + merge +
               "') has no space separator",
           "merges are 'left right' strings");
    }
    const std::string left = merge.substr(0, sep);
    const std::string right = merge.substr(sep + 1);
    auto l = token_to_id.find(left);
    auto r = token_to_id.find(right);
    auto m = token_to_id.find(left + right);
    // A merge whose parts or result are not tokens can never apply to token symbols.
    if (l == token_to_id.end() || r == token_to_id.end() || m == token_to_id.end()) continue;
    merges_.emplace(pair_key(l->second, r->second), Merge{static_cast<int32_t>(rank), m->second});
  }
}

void BpeModel::encode(std::string_view text, std::vector<int32_t>& out) const {
  const std::string clean = utf8::sanitize(text);
  for (std::string_view word : pre_->split(clean)) encode_word(utf8::bytes_to_unicode(word), out);
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  const std::string mapped(word);
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(mapped);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  merge_word(mapped, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (mapped.size() > kMaxCachedWord) return;  // long runs rarely repeat
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() >= kCacheLimit) cache_.clear();
  cache_.emplace(mapped, std::move(ids));
}

void BpeModel::merge_word(const std::string& word, std::vector<int32_t>& out) const {
  if (options_.ignore_merges) {
    auto it = token_to_id_.find(word);
    if (it != token_to_id_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  // One symbol per UTF-8 character of the word.
  struct Symbol {
    int32_t id;     // token id of the symbol's text, -1 if none
    int32_t prev;
    int32_t next;
    uint32_t start;
    uint32_t len;   // 0 once merged into its left neighbour
  };
  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < word.size();) {
    const size_t len = std::min<size_t>(utf8::sequence_length(static_cast<uint8_t>(word[pos])),
                                        word.size() - pos);
    auto it = token_to_id_.find(word.substr(pos, len));
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({it == token_to_id_.end() ? -1 : it->second, index - 1, index + 1,
                       static_cast<uint32_t>(pos), static_cast<uint32_t>(len)});
    pos += len;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  struct Bigram {
    int32_t rank;
    int32_t left;
    int32_t right;
    int32_t left_id;
    int32_t right_id;
    int32_t result;
  };
  // Lowest rank first, then leftmost.
  auto worse = [](const Bigram& a, const Bigram& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  std::priority_queue<Bigram, std::vector<Bigram>, decltype(worse)> queue(worse);
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t lid = symbols[left].id;
    const int32_t rid = symbols[right].id;
    if (lid < 0 || rid < 0) return;
    auto it = merges_.find(pair_key(lid, rid));
    if (it == merges_.end()) return;
    queue.push({it->second.rank, left, right, lid, rid, it->second.result});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& left = symbols[b.left];
    Symbol& right = symbols[b.right];
    // Stale entries: one side has changed since the pair was queued.
    if (left.len == 0 || right.len == 0 || left.next != b.right || left.id != b.left_id ||
        right.id != b.right_id) {
      continue;
    }
    left.len += right.len;
    left.id = b.result;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    if (s.id >= 0) {
      out.push_back(s.id);
      continue;
    }
    // Not a token: fall back to its single bytes (as llama.cpp does).
    for (uint32_t j = 0; j < s.len; ++j) {
      int32_t id = -1;
      if (options_.byte_level) {
        auto it = token_to_id_.find(word.substr(s.start + j, 1));
        if (it != token_to_id_.end()) id = it->second;
      } else {
        id = options_.byte_tokens[static_cast<uint8_t>(word[s.start + j])];
      }
      if (id < 0) id = options_.unk_id;
      if (id >= 0) out.push_back(id);
    }
  }
}

}  // namespace steer
