// Batched text generation with a KV cache, on the batch runner (steer/runner.h): prompts are
// sorted by length and prefilled in batches (a prefix they share runs once), then decoded one
// token per row per step; a row that stops (EOS / end-of-turn token, a stop string, or
// max_new_tokens) leaves the batch and waiting prompts join it — continuous batching — until
// every prompt is done. Results come back in the order of the prompts. A prompt longer than the
// model's context length is a steer::Error (Runner); generation stops at the context length. Hooks attached to the
// HookSet apply to every prefill and decode step (HookContext tells which); per-row hooks select
// rows by prompt index (BatchState::id).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "steer/sampler.h"
#include "steer/model.h"
#include "steer/chat_template.h"
#include "steer/runner.h"

namespace steer {

struct GenerateOptions {
  int max_new_tokens = 128;
  int batch_size = 32;                    // rows decoded together at most
  bool share_prefix = true;               // run the prompts' common prefix once per prefill
  SamplingOptions sampling;               // default: greedy
  std::vector<std::string> stop_strings;  // the text is cut before the first one found
  bool stop_at_eos = true;                // the tokenizer's EOS and end-of-turn tokens
  std::function<void(int64_t)> on_finished;  // called with a prompt's index when it is done (progress)
};

struct Generation {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> ids;     // generated tokens (a final EOS is not included)
  std::string text;             // decoded, cut at a stop string
  std::string finish_reason;    // "eos", "stop", "length" (max_new_tokens) or "context" (the
                                // model's context length came first)
};

// Chat-formats one user message (optional system message) with the model's template.
EncodedPrompt encode_chat_prompt(const Model& model, const std::string& user, const std::string& system = "");
// Chat-formats a conversation (system / user / assistant turns, ending with a user turn) and
// adds the generation prompt; the instruction ends after the last user message.
EncodedPrompt encode_chat_messages(const Model& model, const std::vector<ChatMessage>& messages);
// Raw text, with BOS when the tokenizer adds one by default.
EncodedPrompt encode_raw_prompt(const Model& model, const std::string& text);

struct GenerateStats {
  int64_t prompt_tokens = 0, generated_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
};

// on_token(prompt index, token) is called for every generated token (streaming).
std::vector<Generation> generate(const Model& model, const std::vector<EncodedPrompt>& prompts,
                                 const GenerateOptions& options, const HookSet* hooks = nullptr,
                                 GenerateStats* stats = nullptr,
                                 const std::function<void(int64_t, int32_t)>& on_token = nullptr);

}  // namespace steer
