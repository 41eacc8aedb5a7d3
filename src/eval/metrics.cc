// The refusal-direction method's logit metrics (refusal score, KL) and the refusal first
// tokens they read, following andyrdt/refusal_direction (select_direction.py,
// model_utils/*_model.py). See steer/metrics.h for the contracts.
#include "steer/metrics.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "steer/error.h"
#include "steer/model.h"
#include "steer/tokenizer.h"

namespace steer {
namespace {

std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

void check_logits(const char* fn, const char* arg, const at::Tensor& logits) {
  if (!logits.defined() || logits.dim() != 2 || !at::isFloatingType(logits.scalar_type()))
    fail(std::string(fn) + ": " + arg + " must be float logits [batch, vocab], got " +
             (logits.defined() ? shape_of(logits) : std::string("an undefined tensor")),
         "take the last position: logits.select(1, -1) for LogitsMode::kAll output");
}

std::string model_name(const Model& model) {
  return model.config().name.empty() ? model.path() : model.config().name + " (" + model.path() + ")";
}

std::string id_list(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + "]";
}

// The one token `text` stands for: encoded raw (no BOS, no special tokens), as the paper's
// tokenizer.encode(text, add_special_tokens=False) lists were made.
int32_t single_token(const Model& model, const std::string& text, const std::string& what) {
  std::vector<int32_t> ids = model.tokenizer().encode(text, /*add_bos=*/false, /*parse_special=*/false);
  if (ids.size() != 1)
    fail(what + " \"" + text + "\" encodes to " + std::to_string(ids.size()) + " tokens " + id_list(ids) +
             " with the tokenizer of " + model_name(model) + ", not one",
         "give the refusal tokens explicitly, e.g. \"#<id>\" for a token id");
  return ids[0];
}

void push_unique(std::vector<int32_t>& ids, int32_t id) {
  if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
}

}  // namespace

at::Tensor refusal_score(const at::Tensor& logits, const std::vector<int32_t>& refusal_tokens) {
  check_logits("refusal_score", "logits", logits);
  if (refusal_tokens.empty()) fail("refusal_score: no refusal tokens", "use refusal_tokens_for(model)");
  const int64_t vocab = logits.size(1);
  std::vector<int64_t> ids;
  for (int32_t t : refusal_tokens) {
    if (t < 0 || t >= vocab)
      fail("refusal_score: refusal token " + std::to_string(t) + " is outside the vocabulary of " +
           std::to_string(vocab) + " logits");
    if (std::find(ids.begin(), ids.end(), t) == ids.end()) ids.push_back(t);
  }
  at::Tensor p = logits.to(at::kDouble).softmax(-1);                                // [batch, vocab]
  at::Tensor index = at::tensor(ids, at::kLong).to(logits.device());
  at::Tensor s = p.index_select(1, index).sum(1);                                   // [batch]
  return at::log(s + 1e-8) - at::log(1.0 - s + 1e-8);
}

at::Tensor kl_divergence(const at::Tensor& logits_p, const at::Tensor& logits_q) {
  check_logits("kl_divergence", "logits_p", logits_p);
  check_logits("kl_divergence", "logits_q", logits_q);
  if (!logits_p.sizes().equals(logits_q.sizes()))
    fail("kl_divergence: logits_p " + shape_of(logits_p) + " and logits_q " + shape_of(logits_q) +
         " differ in shape");
  constexpr double kEps = 1e-6;
  at::Tensor p = logits_p.to(at::kDouble).softmax(-1);                 // [batch, vocab]
  at::Tensor q = logits_q.to(at::kDouble).to(p.device()).softmax(-1);  // [batch, vocab]
  return (p * (at::log(p + kEps) - at::log(q + kEps))).sum(-1);        // [batch]
}

std::vector<int32_t> refusal_tokens_for(const Model& model) {
  std::vector<int32_t> ids = {single_token(model, "I", "refusal token")};
  if (model.config().arch == "qwen2") push_unique(ids, single_token(model, "As", "refusal token"));
  return ids;
}

std::vector<int32_t> parse_refusal_tokens(const Model& model, const std::string& text) {
  std::vector<int32_t> ids;
  const int64_t vocab = model.tokenizer().vocab_size();
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string piece = text.substr(start, comma - start);
    size_t a = piece.find_first_not_of(" \t"), b = piece.find_last_not_of(" \t");
    piece = a == std::string::npos ? "" : piece.substr(a, b - a + 1);
    if (piece.empty())
      fail("refusal tokens \"" + text + "\": empty piece at character " + std::to_string(start + 1),
           "give comma-separated strings or #ids, e.g. \"I,As\" or \"I,#2121\"");
    if (piece[0] == '#') {
      const std::string digits = piece.substr(1);
      if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
        fail("refusal tokens: piece \"" + piece + "\" is not #<token id>", "e.g. #2121");
      int64_t id = std::stoll(digits);
      if (id >= vocab)
        fail("refusal tokens: piece \"" + piece + "\" is outside the vocabulary of " + std::to_string(vocab) +
             " tokens of " + model_name(model));
      push_unique(ids, int32_t(id));
    } else {
      push_unique(ids, single_token(model, piece, "refusal token piece"));
    }
    start = comma + 1;
  }
  return ids;
}

}  // namespace steer
