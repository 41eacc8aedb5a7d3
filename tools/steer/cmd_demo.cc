// steer demo: the README's main job until the refusal pipeline lands — load the default model,
// chat-generate for a few built-in (project-written) prompts as one batch, report speed.
#include <iostream>

#include "cli.h"
#include "core/model_cache.h"
#include "steer/generate.h"

namespace steer::cli {

std::function<int()> setup_demo(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string model = kDefaultModelName;
    int max_tokens = 64;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("--model,-m", o->model, "Model to run")->capture_default_str();
  sub.add_option("--max-tokens,-n", o->max_tokens, "New tokens per prompt")->capture_default_str();
  return [o, &global]() {
    const std::vector<std::string> prompts = {
        "What is the capital of France? Answer in one sentence.",
        "Give me three tips for keeping a houseplant alive.",
        "Explain what a prime number is to a ten-year-old.",
        "Write a two-line poem about the sea.",
    };
    auto model = load_model(o->model, global);
    std::cout << "model: " << model->path() << "\n  " << model->config().describe() << "\n  dtype "
              << dtype_name(model->dtype()) << "\n\n";
    std::vector<EncodedPrompt> encoded;
    for (const auto& p : prompts) encoded.push_back(encode_chat_prompt(*model, p));
    GenerateOptions gen;
    gen.max_new_tokens = o->max_tokens;
    GenerateStats stats;
    auto out = generate(*model, encoded, gen, nullptr, &stats);
    for (size_t i = 0; i < out.size(); ++i)
      std::cout << "### " << prompts[i] << "\n" << out[i].text << "\n[" << out[i].ids.size() << " tokens, "
                << out[i].finish_reason << "]\n\n";
    double steps = std::max<int64_t>(1, stats.generated_tokens - int64_t(prompts.size()));
    std::printf("prefill: %lld tokens in %.2f s = %.1f tok/s\n", (long long)stats.prompt_tokens,
                stats.prefill_seconds, stats.prompt_tokens / std::max(1e-9, stats.prefill_seconds));
    std::printf("decode:  %lld tokens in %.2f s = %.1f tok/s (batch %zu)\n", (long long)stats.generated_tokens,
                stats.decode_seconds, steps / std::max(1e-9, stats.decode_seconds), prompts.size());
    return 0;
  };
}

}  // namespace steer::cli
