#include "steer/generate.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "steer/error.h"
#include "steer/hooks.h"
#include "steer/chat_template.h"
#include "steer/tokenizer.h"

namespace steer {

namespace {

// NaN or ±inf logits (a steering coefficient so large the residual stream overflows) would be
// sampled as token 0 or garbage and reported as success: stop with an error instead.
void check_finite_logits(const at::Tensor& logits, const std::vector<Generation>& out,
                         const std::vector<int64_t>& rows, bool steered) {
  if (at::isfinite(logits).all().item<bool>()) return;
  const at::Tensor bad = at::logical_not(at::isfinite(logits).all(-1)).nonzero();
  const int64_t prompt = rows[bad[0][0].item<int64_t>()];
  fail("generation: the next-token logits of prompt " + std::to_string(prompt) + " are not finite (NaN or inf) after " +
           std::to_string(out[prompt].ids.size()) + " generated tokens",
       steered ? "the steering overflows the activations: use a smaller coefficient (--add FILE@LAYER:COEF) or clamp value"
               : "the model's weights or the compute dtype overflow; try --dtype f32");
}

}  // namespace

EncodedPrompt encode_chat_prompt(const Model& model, const std::string& user, const std::string& system) {
  std::vector<ChatMessage> messages;
  if (!system.empty()) messages.push_back({"system", system});
  messages.push_back({"user", user});
  return encode_chat_messages(model, messages);
}

EncodedPrompt encode_chat_messages(const Model& model, const std::vector<ChatMessage>& messages) {
  RenderedChat rendered = model.chat_template().render(messages, /*add_generation_prompt=*/true);
  int post_len = 0;
  EncodedPrompt p;
  p.ids = encode_chat(model.tokenizer(), rendered, &post_len);
  p.instruction_end = int64_t(p.ids.size()) - post_len;
  return p;
}

EncodedPrompt encode_raw_prompt(const Model& model, const std::string& text) {
  EncodedPrompt p;
  p.ids = model.tokenizer().encode(text, model.tokenizer().add_bos_default());
  p.instruction_end = int64_t(p.ids.size());
  return p;
}

std::vector<Generation> generate(const Model& model, const std::vector<EncodedPrompt>& prompts,
                                 const GenerateOptions& options, const HookSet* hooks, GenerateStats* stats,
                                 const std::function<void(int64_t, int32_t)>& on_token) {
  using clock = std::chrono::steady_clock;
  if (options.max_new_tokens < 0) fail("max new tokens must be ≥ 0");
  if (prompts.empty()) fail("generate: no prompts");
  const Tokenizer& tok = model.tokenizer();
  Runner runner(model, {options.batch_size, /*sort_by_length=*/true, options.share_prefix});
  TokenSampler sampler(options.sampling);
  std::set<int32_t> stop_ids;
  if (options.stop_at_eos)
    for (int32_t id : tok.stop_ids()) stop_ids.insert(id);

  const int64_t N = prompts.size(), max_rows = options.batch_size;
  // Every row stops at the context length: its budget of new tokens is what the context leaves
  // after its prompt, however large max_new_tokens is. The KV cache reserves at most
  // kMaxReserve slots up front and grows with the tokens made (DecodeBatch), so a file that
  // claims a huge context costs memory only for tokens actually generated.
  constexpr int64_t kMaxReserve = 512;
  const int64_t context = model.config().context_length;
  std::vector<int64_t> budget(N);
  for (int64_t i = 0; i < N; ++i) {
    const int64_t len = int64_t(prompts[i].ids.size());
    if (len >= context)
      fail("prompt " + std::to_string(i + 1) + " has " + std::to_string(len) + " tokens; the model's context holds " +
               std::to_string(context) + ", leaving no room to generate",
           "shorten the prompt (steer tokenize counts its tokens)");
    budget[i] = std::min<int64_t>(options.max_new_tokens, context - len);
  }
  std::vector<Generation> out(N);
  for (int64_t i = 0; i < N; ++i) out[i].prompt_ids = prompts[i].ids;
  std::vector<int64_t> queue;  // prompt indices, shortest first: joiners of a prefill pad little
  for (const auto& batch : runner.plan(prompts)) queue.insert(queue.end(), batch.begin(), batch.end());
  size_t next_in = 0;

  DecodeBatch batch(runner, hooks);
  at::Tensor logits;  // [rows, vocab]: the next-token logits of batch.ids(), in that order
  double prefill_s = 0, decode_s = 0;
  auto finish = [&](int64_t i, const char* reason, std::vector<int64_t>& done) {
    out[i].finish_reason = reason;
    done.push_back(i);
  };
  while (true) {
    // Waiting prompts join when a quarter of the rows are free (or none run): one prefill
    // serves several joiners.
    const int64_t free = max_rows - batch.size();
    if (next_in < queue.size() && (batch.empty() || 4 * free >= max_rows)) {
      const size_t n = std::min<size_t>(free, queue.size() - next_in);
      std::vector<EncodedPrompt> joining;
      std::vector<int64_t> ids(queue.begin() + next_in, queue.begin() + next_in + n);
      int64_t reserve = 0;
      for (int64_t i : ids) {
        joining.push_back(prompts[i]);
        reserve = std::max(reserve, std::min(budget[i], kMaxReserve));
      }
      next_in += n;
      auto t0 = clock::now();
      at::Tensor first = batch.join(joining, ids, reserve);
      prefill_s += std::chrono::duration<double>(clock::now() - t0).count();
      logits = logits.defined() ? at::cat({logits, first}) : first;
    }
    if (batch.empty()) break;

    std::vector<int64_t> done;
    std::vector<int32_t> next;
    if (options.max_new_tokens == 0) {
      for (int64_t i : batch.ids()) finish(i, "length", done);
    } else {
      check_finite_logits(logits, out, batch.ids(), hooks && !hooks->empty());
      next = sampler.next(logits, batch.ids());
      for (size_t b = 0; b < next.size(); ++b) {
        const int64_t i = batch.ids()[b];
        Generation& g = out[i];
        if (stop_ids.count(next[b])) {
          finish(i, "eos", done);
          continue;
        }
        g.ids.push_back(next[b]);
        if (on_token) on_token(i, next[b]);
        bool stopped = false;
        if (!options.stop_strings.empty()) {
          std::string text = tok.decode(g.ids, /*skip_special=*/true);
          for (const auto& s : options.stop_strings)
            if (!s.empty() && text.find(s) != std::string::npos) {
              stopped = true;
              break;
            }
        }
        if (stopped) finish(i, "stop", done);
        else if (int64_t(g.ids.size()) == options.max_new_tokens) finish(i, "length", done);
        else if (int64_t(g.ids.size()) == budget[i]) finish(i, "context", done);
      }
    }
    if (!done.empty()) {
      std::set<int64_t> gone(done.begin(), done.end());
      std::vector<int32_t> kept;
      for (size_t b = 0; b < next.size(); ++b)
        if (!gone.count(batch.ids()[b])) kept.push_back(next[b]);
      next = std::move(kept);
      batch.leave(done);
      if (options.on_finished)
        for (int64_t i : done) options.on_finished(i);
    }
    if (batch.empty()) {  // join the next prompts, or end
      logits = at::Tensor();
      continue;
    }
    auto t1 = clock::now();
    logits = batch.step(next);
    decode_s += std::chrono::duration<double>(clock::now() - t1).count();
  }

  for (Generation& g : out) {
    g.text = tok.decode(g.ids, /*skip_special=*/true);
    if (g.finish_reason == "stop") {
      size_t cut = std::string::npos;
      for (const auto& s : options.stop_strings)
        if (!s.empty()) cut = std::min(cut, g.text.find(s));
      if (cut != std::string::npos) g.text.resize(cut);
    }
  }
  if (stats) {
    stats->prompt_tokens = 0;
    for (const auto& p : prompts) stats->prompt_tokens += p.ids.size();
    stats->generated_tokens = 0;
    for (const auto& g : out) stats->generated_tokens += g.ids.size();
    stats->prefill_seconds = prefill_s;
    stats->decode_seconds = decode_s;
  }
  return out;
}

}  // namespace steer
