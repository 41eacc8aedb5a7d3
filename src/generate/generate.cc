#include "steer/generate.h"

#include <ATen/ATen.h>

#include <chrono>
#include <set>

#include "steer/error.h"
#include "steer/chat_template.h"
#include "steer/tokenizer.h"

namespace steer {

EncodedPrompt encode_chat_prompt(const Model& model, const std::string& user, const std::string& system) {
  std::vector<ChatMessage> messages;
  if (!system.empty()) messages.push_back({"system", system});
  messages.push_back({"user", user});
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
  const Tokenizer& tok = model.tokenizer();
  std::vector<std::vector<int32_t>> ids;
  std::vector<int64_t> starts;
  for (const auto& p : prompts) {
    ids.push_back(p.ids);
    starts.push_back(p.instruction_end);
  }
  BatchState state;
  at::Tensor tokens = make_batch(ids, model.pad_id(), state, starts);
  const int64_t B = state.batch;
  model.allocate_cache(state, tokens.size(1) + options.max_new_tokens);

  std::vector<Generation> out(B);
  for (int64_t b = 0; b < B; ++b) out[b].prompt_ids = ids[b];
  std::set<int32_t> stop_ids;
  if (options.stop_at_eos)
    for (int32_t id : tok.stop_ids()) stop_ids.insert(id);
  std::vector<bool> done(B, false);
  TokenSampler sampler(options.sampling, B);

  auto t0 = clock::now();
  at::Tensor logits = model.forward(tokens, state, hooks, LogitsMode::kLast);
  auto t1 = clock::now();
  int64_t remaining = B;
  for (int step = 0; step < options.max_new_tokens && remaining > 0; ++step) {
    std::vector<int32_t> next = sampler.next(logits);
    for (int64_t b = 0; b < B; ++b) {
      if (done[b]) {
        next[b] = model.pad_id();
        continue;
      }
      if (stop_ids.count(next[b])) {
        done[b] = true, --remaining;
        out[b].finish_reason = "eos";
        next[b] = model.pad_id();
        continue;
      }
      out[b].ids.push_back(next[b]);
      if (on_token) on_token(b, next[b]);
      if (!options.stop_strings.empty()) {
        std::string text = tok.decode(out[b].ids, /*skip_special=*/true);
        for (const auto& s : options.stop_strings) {
          if (!s.empty() && text.find(s) != std::string::npos) {
            done[b] = true, --remaining;
            out[b].finish_reason = "stop";
            break;
          }
        }
      }
    }
    if (remaining == 0 || step + 1 == options.max_new_tokens) break;
    at::Tensor step_tokens = at::empty({B, 1}, at::kLong);
    auto acc = step_tokens.accessor<int64_t, 2>();
    for (int64_t b = 0; b < B; ++b) acc[b][0] = next[b];
    logits = model.forward(step_tokens, state, hooks, LogitsMode::kLast);
  }
  auto t2 = clock::now();

  for (int64_t b = 0; b < B; ++b) {
    Generation& g = out[b];
    g.text = tok.decode(g.ids, /*skip_special=*/true);
    if (g.finish_reason.empty()) g.finish_reason = "length";
    if (g.finish_reason == "stop") {
      size_t cut = std::string::npos;
      for (const auto& s : options.stop_strings)
        if (!s.empty()) cut = std::min(cut, g.text.find(s));
      if (cut != std::string::npos) g.text.resize(cut);
    }
  }
  if (stats) {
    stats->prompt_tokens = 0;
    for (const auto& p : ids) stats->prompt_tokens += p.size();
    stats->generated_tokens = 0;
    for (const auto& g : out) stats->generated_tokens += g.ids.size();
    stats->prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
    stats->decode_seconds = std::chrono::duration<double>(t2 - t1).count();
  }
  return out;
}

}  // namespace steer
