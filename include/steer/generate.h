// Batched text generation with a KV cache: prompts of different lengths are left-padded and
// prefilled together, then decoded one token per row per step until every row has stopped
// (EOS / end-of-turn token, a stop string, or max_new_tokens). Hooks attached to the HookSet
// apply to the prefill and to every decode step; HookContext tells them which is which.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "steer/sampler.h"
#include "steer/model.h"

namespace steer {

struct GenerateOptions {
  int max_new_tokens = 128;
  SamplingOptions sampling;               // default: greedy
  std::vector<std::string> stop_strings;  // the text is cut before the first one found
  bool stop_at_eos = true;                // the tokenizer's EOS and end-of-turn tokens
};

struct Generation {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> ids;     // generated tokens (a final EOS is not included)
  std::string text;             // decoded, cut at a stop string
  std::string finish_reason;    // "eos", "stop" or "length"
};

// A prompt ready for the model: token ids, and where its post-instruction tail starts
// (for chat prompts: the template text after the user's message; else ids.size()).
struct EncodedPrompt {
  std::vector<int32_t> ids;
  int64_t instruction_end = 0;
};

// Chat-formats one user message (optional system message) with the model's template.
EncodedPrompt encode_chat_prompt(const Model& model, const std::string& user, const std::string& system = "");
// Raw text, with BOS when the tokenizer adds one by default.
EncodedPrompt encode_raw_prompt(const Model& model, const std::string& text);

struct GenerateStats {
  int64_t prompt_tokens = 0, generated_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
};

// on_token(row, token) is called for every generated token (streaming).
std::vector<Generation> generate(const Model& model, const std::vector<EncodedPrompt>& prompts,
                                 const GenerateOptions& options, const HookSet* hooks = nullptr,
                                 GenerateStats* stats = nullptr,
                                 const std::function<void(int64_t, int32_t)>& on_token = nullptr);

}  // namespace steer
