// Teacher-forced cross-entropy of a continuation (the paper's loss on Alpaca responses) and of
// plain text (its Pile loss). Sequences run in left-padded batches; only the logits of the
// slots that predict a scored token get a log-softmax, so memory stays at one [seq, vocab]
// float32 copy per row on top of the forward's own logits.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <memory>

#include "steer/error.h"
#include "steer/progress.h"
#include "steer/generate.h"
#include "steer/metrics.h"
#include "steer/model.h"
#include "steer/runner.h"
#include "steer/tokenizer.h"

namespace steer {

LossResult continuation_loss(const Model& model, const std::vector<EncodedPrompt>& prompts,
                             const std::vector<std::vector<int32_t>>& targets, const HookSet* hooks,
                             int batch_size, bool progress) {
  if (prompts.size() != targets.size())
    fail("continuation_loss: " + std::to_string(prompts.size()) + " prompts but " +
         std::to_string(targets.size()) + " targets");
  if (batch_size < 1) fail("continuation_loss: batch size must be ≥ 1, got " + std::to_string(batch_size));
  const int64_t vocab = model.config().vocab_size;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].ids.empty())
      fail("continuation_loss: prompt " + std::to_string(i) + " has no tokens",
           "a target needs at least one token before it (BOS or the chat prompt)");
    for (int32_t t : targets[i])
      if (t < 0 || t >= vocab)
        fail("continuation_loss: target " + std::to_string(i) + " has token " + std::to_string(t) +
             " outside the vocabulary of " + std::to_string(vocab));
  }

  LossResult out;
  out.per_example.assign(prompts.size(), std::numeric_limits<double>::quiet_NaN());
  double total = 0;
  std::unique_ptr<Progress> bar;
  if (progress) bar = std::make_unique<Progress>("loss", int64_t(prompts.size()), "seq");

  // Prompt and target run as one sequence; the runner batches them by length and runs a prefix
  // they share once, kept before every prompt's last token (the first one that predicts a target).
  std::vector<EncodedPrompt> seqs;
  int64_t shortest_prompt = std::numeric_limits<int64_t>::max();
  for (size_t i = 0; i < prompts.size(); ++i) {
    EncodedPrompt s = prompts[i];
    s.ids.insert(s.ids.end(), targets[i].begin(), targets[i].end());
    seqs.push_back(std::move(s));
    shortest_prompt = std::min<int64_t>(shortest_prompt, prompts[i].ids.size());
  }
  PrepareArgs prep;
  prep.prefix_hooks = hooks;
  prep.max_prefix = shortest_prompt - 1;
  ForwardArgs fa;
  fa.hooks = hooks;
  fa.logits = LogitsMode::kAll;
  Runner(model, {batch_size}).run(seqs, fa, prep, [&](const PromptBatch& pb, const at::Tensor& logits) {
    const BatchState& state = pb.state;  // logits [B, T, vocab] float32: slots [state.prefix, ...)
    for (int64_t b = 0; b < state.batch; ++b) {
      const int64_t i = pb.rows[b];
      const int64_t n = int64_t(targets[i].size());
      if (n == 0) continue;
      // Target token j sits at position P + j (P = prompt length) and is predicted by the one before.
      const int64_t first = state.slot(b, int64_t(prompts[i].ids.size()) - 1) - state.prefix;
      at::Tensor logp = logits[b].narrow(0, first, n).to(at::kFloat).log_softmax(-1);  // [n, vocab]
      std::vector<int64_t> ids(targets[i].begin(), targets[i].end());
      at::Tensor idx = at::tensor(ids, at::kLong).to(logp.device()).unsqueeze(1);       // [n, 1]
      const double nll = -logp.gather(1, idx).to(at::kDouble).sum().item<double>();
      out.per_example[i] = nll / double(n);
      total += nll;
      out.tokens += n;
    }
    if (bar) bar->advance(state.batch);
  });
  if (bar) bar->finish();
  out.mean_ce = out.tokens > 0 ? total / double(out.tokens) : std::numeric_limits<double>::quiet_NaN();
  return out;
}

LossResult text_loss(const Model& model, const std::vector<std::string>& texts, const HookSet* hooks,
                     int batch_size, bool progress, int max_tokens) {
  if (max_tokens < 2) fail("text_loss: max tokens must be ≥ 2, got " + std::to_string(max_tokens));
  const Tokenizer& tok = model.tokenizer();
  std::vector<EncodedPrompt> prompts;
  std::vector<std::vector<int32_t>> targets;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<int32_t> ids = tok.encode(texts[i], tok.add_bos_default());
    if (ids.empty()) fail("text_loss: text " + std::to_string(i) + " encodes to no tokens", "drop empty texts");
    if (int64_t(ids.size()) > max_tokens) ids.resize(max_tokens);
    EncodedPrompt p;
    p.ids = {ids[0]};
    p.instruction_end = 1;
    prompts.push_back(std::move(p));
    targets.emplace_back(ids.begin() + 1, ids.end());
  }
  return continuation_loss(model, prompts, targets, hooks, batch_size, progress);
}

}  // namespace steer
