// steer generate: chat-formatted (default) or raw generation, one prompt or a file of prompts
// run as one batch, optionally steered (--add, --ablate, --clamp; see steering_args.h).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "steering_args.h"
#include "steer/error.h"
#include "steer/json_text.h"
#include "steer/interventions.h"
#include "steer/generate.h"
#include "steer/prompts.h"
#include "steer/tokenizer.h"

namespace steer::cli {

std::function<int()> setup_generate(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string model, prompt, prompt_file, system, chat_template;
    int max_tokens = 128;
    float temperature = 0.f, top_p = 1.f;
    int top_k = 0;
    uint64_t seed = 0;
    bool raw = false, json = false;
    std::vector<std::string> stop;
    SteeringArgs steering;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "Model: .gguf, HF directory or default model name")->required();
  sub.add_option("--prompt,-p", o->prompt, "The user message (or raw text with --raw)");
  sub.add_option("--prompt-file", o->prompt_file, "A file with one prompt per line, generated as one batch");
  sub.add_option("--system", o->system, "System message (chat mode)");
  sub.add_option("--max-tokens,-n", o->max_tokens, "New tokens at most")->capture_default_str();
  sub.add_option("--temperature,-t", o->temperature, "0 = greedy")->capture_default_str()->check(finite_in(0, HUGE_VAL));
  sub.add_option("--top-k", o->top_k, "Sample from the k most likely tokens (0 = off)")->capture_default_str();
  sub.add_option("--top-p", o->top_p, "Nucleus sampling mass (1 = off)")->capture_default_str()->check(finite_in(0, 1));
  sub.add_option("--seed", o->seed, "Sampling seed")->capture_default_str();
  sub.add_option("--stop", o->stop, "Stop string (repeatable)");
  sub.add_option("--chat-template", o->chat_template, "A chat template file overriding the model's");
  sub.add_flag("--raw", o->raw, "No chat template: continue the text as is");
  sub.add_flag("--json", o->json, "Print JSON: prompt, ids, text, finish reason, speed, steering");
  add_steering_options(sub, o->steering);

  return [o, &global]() {
    std::vector<std::string> prompts;
    if (!o->prompt.empty()) prompts.push_back(o->prompt);
    if (!o->prompt_file.empty()) {
      for (std::string& line : read_nonempty_lines(o->prompt_file, "--prompt-file"))
        prompts.push_back(std::move(line));
    }
    if (prompts.empty()) fail("no prompt given", "use --prompt TEXT or --prompt-file FILE");
    if (o->max_tokens < 1) fail("--max-tokens must be ≥ 1, got " + std::to_string(o->max_tokens));
    if (!(o->top_p > 0)) fail("--top-p must be in (0, 1], got " + std::to_string(o->top_p), "1 is off");
    if (o->top_k < 0) fail("--top-k must be ≥ 0, got " + std::to_string(o->top_k), "0 is off");
    Steering steering = build_steering(o->steering, !o->raw);  // reads the vector files before the model

    auto model = load_model(o->model, global, o->chat_template);
    for (const std::string& w : check_steering_fits(o->steering, model->config()))
      std::fprintf(stderr, "warning: %s\n", w.c_str());
    std::vector<EncodedPrompt> encoded;
    for (const auto& p : prompts)
      encoded.push_back(o->raw ? encode_raw_prompt(*model, p) : encode_chat_prompt(*model, p, o->system));
    GenerateOptions gen;
    gen.max_new_tokens = o->max_tokens;
    gen.sampling = {o->temperature, o->top_k, o->top_p, o->seed};
    gen.stop_strings = o->stop;
    GenerateStats stats;
    bool stream = !o->json && prompts.size() == 1;
    std::vector<int32_t> streamed;
    size_t printed = 0;
    auto on_token = [&](int64_t, int32_t id) {  // print the text as it grows
      streamed.push_back(id);
      std::string text = model->tokenizer().decode(streamed, true);
      if (text.size() > printed && (text.back() & 0xC0) != 0x80) {
        std::cout << text.substr(printed) << std::flush;
        printed = text.size();
      }
    };
    std::function<void(int64_t, int32_t)> callback;
    if (stream) callback = on_token;
    HookSet hooks(model->config().n_layers);
    SteeringScope scope = steering.attach(hooks, *model);  // checks d_model and layers against the model
    if (!steering.empty()) std::fprintf(stderr, "steering: %s\n", steering.summary().c_str());
    auto out = generate(*model, encoded, gen, &hooks, &stats, callback);

    double decode_tps = stats.decode_seconds > 0 ? (stats.generated_tokens - int64_t(prompts.size())) / stats.decode_seconds : 0;
    double prefill_tps = stats.prefill_seconds > 0 ? stats.prompt_tokens / stats.prefill_seconds : 0;
    if (o->json) {
      nlohmann::json j = nlohmann::json::array();
      for (size_t i = 0; i < out.size(); ++i)
        j.push_back(nlohmann::json{{"prompt", prompts[i]}, {"prompt_ids", out[i].prompt_ids}, {"ids", out[i].ids},
                                   {"text", out[i].text}, {"finish_reason", out[i].finish_reason}});
      nlohmann::json result = {{"model", model->path()}, {"dtype", dtype_name(model->dtype())},
                               {"steering", steering.summary()}, {"results", j},
                               {"prefill_tokens_per_s", prefill_tps}, {"decode_tokens_per_s", decode_tps}};
      std::cout << json_text(result, 2) << "\n";
      return 0;
    }
    if (stream) {
      std::cout << "\n";
    } else {
      for (size_t i = 0; i < out.size(); ++i)
        std::cout << "### " << prompts[i] << "\n" << out[i].text << "\n\n";
    }
    std::fprintf(stderr, "[%lld prompt tokens at %.1f tok/s, %lld generated at %.1f tok/s, %s]\n",
                 (long long)stats.prompt_tokens, prefill_tps, (long long)stats.generated_tokens, decode_tps,
                 dtype_name(model->dtype()).c_str());
    return 0;
  };
}

}  // namespace steer::cli
