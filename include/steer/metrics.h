// Logit metrics of the refusal-direction method (Arditi et al. 2024) and teacher-forced
// cross-entropy losses, computed as andyrdt/refusal_direction's code computes them.
//
//   std::vector<int32_t> R = steer::refusal_tokens_for(*model);          // {"I"}; qwen2: {"I", "As"}
//   at::Tensor logits = model->forward(tokens, state);                     // [batch, vocab] float32
//   at::Tensor score = steer::refusal_score(logits, R);                    // [batch] float64
//   at::Tensor kl = steer::kl_divergence(base_logits, ablated_logits);     // [batch] float64
//   steer::LossResult ce = steer::text_loss(*model, texts, &ablation);     // nats per token
//
// Numerics: both metrics cast the logits to float64 before the softmax, as the paper's code
// does (select_direction.py: refusal_score, kl_div_fn), so a selection run here and there
// agrees to float64 rounding on equal logits. Losses take a float32 log-softmax of the model's
// float32 logits and accumulate in float64.
//
// Failure: steer::Error naming the argument and both shapes on a shape mismatch, the token
// id and the vocabulary size on an out-of-range token, the model and what "I" encoded to
// when a refusal token is not a single token.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace steer {

class Model;
class HookSet;
struct EncodedPrompt;

// The paper's first-token refusal metric. logits [batch, vocab] (any float dtype) →
// [batch] float64: p = softmax(logits) in float64; s = Σ_{t∈R} p_t;
// score = log(s + 1e-8) − log(1 − s + 1e-8). Positive: the model likely starts with a refusal
// token. refusal_tokens must be non-empty; a repeated id is counted once.
at::Tensor refusal_score(const at::Tensor& logits, const std::vector<int32_t>& refusal_tokens);

// KL(p‖q) per row of two [batch, vocab] logit tensors → [batch] float64, as kl_div_fn:
// p = softmax(logits_p), q = softmax(logits_q) in float64,
// KL = Σ_v p (log(p + 1e-6) − log(q + 1e-6)). The paper reports the mean over the batch
// (take .mean() of the result). The epsilon makes KL(p‖p) exactly 0 and bounds the terms
// where q underflows.
at::Tensor kl_divergence(const at::Tensor& logits_p, const at::Tensor& logits_q);

// The refusal first tokens R of a model, from its own tokenizer: the id of "I" (encoded with
// no BOS and no special-token parsing — for SentencePiece vocabularies that is "▁I", as the
// paper's Llama-2 id 306), plus the id of "As" for qwen2-arch models (the paper's Qwen
// list is ['I', 'As']). Throws steer::Error naming the model and the ids when a string does
// not encode to exactly one token.
std::vector<int32_t> refusal_tokens_for(const Model& model);

// An override of R: comma-separated pieces, each either a string encoded as above (it must
// be exactly one token) or "#<id>" a literal token id below the vocabulary size, e.g.
// "I,As" or "I,#2121". Blanks around a piece are removed (use "#id" for a token that is a
// blank). Throws steer::Error naming the piece (and what it encoded to) otherwise, or when
// the list is empty. Duplicates are removed; order is kept.
std::vector<int32_t> parse_refusal_tokens(const Model& model, const std::string& text);

// Teacher-forced cross-entropy, in nats per token.
struct LossResult {
  double mean_ce = 0;               // Σ token CE / Σ scored tokens (all examples pooled)
  int64_t tokens = 0;               // scored tokens
  std::vector<double> per_example;  // each example's mean CE over its own scored tokens
                                    // (NaN for an example with no scored token)
};

// The CE of targets[i] as the continuation of prompts[i]: the sequence prompt ++ target runs
// through the model (left-padded batches of batch_size, LogitsMode::kAll, with `hooks` — pass
// an ablation to measure its cost) and only the target tokens are scored, each from the
// logits of the slot before it. This is the paper's loss on Alpaca completions: the prompt is
// the chat-formatted instruction up to and including the post-instruction tokens, the target
// the response. An empty target scores nothing (per_example NaN). Memory: the forward returns
// [batch, seq, vocab] float32 logits (Qwen's 151k vocabulary: 0.6 MB per token), so lower
// batch_size for long sequences. Throws steer::Error on
// mismatched list sizes, an empty prompt, batch_size < 1, or a token outside the vocabulary.
LossResult continuation_loss(const Model& model, const std::vector<EncodedPrompt>& prompts,
                             const std::vector<std::vector<int32_t>>& targets,
                             const HookSet* hooks = nullptr, int batch_size = 8, bool progress = true);

// Plain language-model loss on raw text (the paper's Pile loss): each text is encoded raw
// (BOS when the tokenizer adds one by default), truncated to max_tokens tokens, and every
// token after the first is scored. Equal to continuation_loss with the first token as the
// prompt and the rest as the target. A text that encodes to a single token scores nothing.
LossResult text_loss(const Model& model, const std::vector<std::string>& texts,
                     const HookSet* hooks = nullptr, int batch_size = 8, bool progress = true,
                     int max_tokens = 256);

}  // namespace steer
