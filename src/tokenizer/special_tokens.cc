// Special-token partition (see special_tokens.h).
#include "tokenizer/special_tokens.h"

#include <algorithm>
#include <numeric>

namespace steer {

SpecialTokenMatcher::SpecialTokenMatcher(const std::vector<std::string>& texts,
                                         const std::vector<int32_t>& ids) {
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string& text = texts[i];
    if (text.empty()) continue;
    int32_t node = 0;
    for (unsigned char c : text) {
      auto it = nodes_[node].next.find(c);
      if (it == nodes_[node].next.end()) {
        nodes_.emplace_back();
        const int32_t child = static_cast<int32_t>(nodes_.size() - 1);
        nodes_[node].next.emplace(c, child);
        node = child;
      } else {
        node = it->second;
      }
    }
    if (nodes_[node].token_index >= 0) continue;  // duplicate text: the first id keeps it
    nodes_[node].token_index = static_cast<int32_t>(ids_.size());
    ids_.push_back(ids[i]);
    lengths_.push_back(text.size());
  }
  // Longest text first; ties by id so the order is deterministic.
  std::vector<int32_t> order(ids_.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    if (lengths_[a] != lengths_[b]) return lengths_[a] > lengths_[b];
    return ids_[a] < ids_[b];
  });
  priority_.assign(ids_.size(), 0);
  for (size_t r = 0; r < order.size(); ++r) priority_[order[r]] = static_cast<int32_t>(r);
}

std::vector<Fragment> SpecialTokenMatcher::split(std::string_view text) const {
  std::vector<Fragment> out;
  if (text.empty()) return out;
  if (ids_.empty()) {
    out.push_back({-1, text});
    return out;
  }
  struct Occurrence {
    size_t start;
    int32_t token_index;
  };
  std::vector<Occurrence> found;
  for (size_t start = 0; start < text.size(); ++start) {
    int32_t node = 0;
    for (size_t i = start; i < text.size(); ++i) {
      auto it = nodes_[node].next.find(static_cast<unsigned char>(text[i]));
      if (it == nodes_[node].next.end()) break;
      node = it->second;
      if (nodes_[node].token_index >= 0) found.push_back({start, nodes_[node].token_index});
    }
  }
  if (found.empty()) {
    out.push_back({-1, text});
    return out;
  }
  // Claim in priority order; within one token, left to right.
  std::stable_sort(found.begin(), found.end(), [&](const Occurrence& a, const Occurrence& b) {
    if (a.token_index != b.token_index) return priority_[a.token_index] < priority_[b.token_index];
    return a.start < b.start;
  });
  std::vector<int32_t> owner(text.size(), -1);  // byte → index into `found` that claimed it
  std::vector<Occurrence> claimed;
  for (const auto& occ : found) {
    const size_t len = lengths_[occ.token_index];
    bool free = true;
    for (size_t i = occ.start; i < occ.start + len; ++i) {
      if (owner[i] >= 0) {
        free = false;
        break;
      }
    }
    if (!free) continue;
    for (size_t i = occ.start; i < occ.start + len; ++i) owner[i] = 1;
    claimed.push_back(occ);
  }
  std::sort(claimed.begin(), claimed.end(),
            [](const Occurrence& a, const Occurrence& b) { return a.start < b.start; });
  size_t pos = 0;
  for (const auto& occ : claimed) {
    if (occ.start > pos) out.push_back({-1, text.substr(pos, occ.start - pos)});
    out.push_back({ids_[occ.token_index], {}});
    pos = occ.start + lengths_[occ.token_index];
  }
  if (pos < text.size()) out.push_back({-1, text.substr(pos)});
  return out;
}

}  // namespace steer
