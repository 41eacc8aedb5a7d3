// Cuts special-token texts out of input text before BPE/SPM runs.
//
// llama.cpp's rule (tokenizer_st_partition): special tokens are tried longest text first;
// every occurrence of a token in the text that is still unclaimed is cut out, left to right,
// then the next shorter token is tried on what remains. We find all occurrences in one trie
// pass and then claim them in that priority order, which gives the same fragments. (Hugging
// Face uses leftmost-longest instead; the two differ only when two special texts overlap.)
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace steer {

// A piece of input: either raw text (a view into the input) or one special token.
struct Fragment {
  int32_t token = -1;     // >= 0: a special token
  std::string_view text;  // raw text when token < 0
};

class SpecialTokenMatcher {
 public:
  // `texts[i]` is the text of token `ids[i]`; empty texts are ignored.
  SpecialTokenMatcher(const std::vector<std::string>& texts, const std::vector<int32_t>& ids);
  SpecialTokenMatcher() = default;

  bool empty() const { return ids_.empty(); }
  std::vector<Fragment> split(std::string_view text) const;

 private:
  struct Node {
    std::unordered_map<unsigned char, int32_t> next;
    int32_t token_index = -1;  // index into ids_/lengths_ of the token ending here
  };
  std::vector<Node> nodes_{1};
  std::vector<int32_t> ids_;
  std::vector<size_t> lengths_;
  std::vector<int32_t> priority_;  // per token index: rank in longest-first order
};

}  // namespace steer
