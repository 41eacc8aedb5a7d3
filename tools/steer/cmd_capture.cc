// steer capture: run a prompt file through a model and save activation sums (float64) and
// optionally every example's activations at chosen sites × layers × positions.
#include <iostream>
#include <sstream>

#include "cli.h"
#include "steer/error.h"
#include "prompt_args.h"
#include "steer/capture.h"
#include "steer/outputs.h"

namespace steer::cli {

std::function<int()> setup_capture(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string model, prompts, sites = "resid_pre", layers = "all", positions = "-1", output, system, chat_template;
    bool per_example = false, raw = false;
    int batch_size = 16;
    PromptFileOptions files;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "Model: .gguf, HF directory or default model name")->required();
  sub.add_option("--prompts", o->prompts, "Prompt file (text, JSON, JSONL, CSV), or builtin:harmful / builtin:harmless")
      ->required();
  o->files.add_to(sub);
  sub.add_option("--sites", o->sites, "Comma-separated sites: resid_pre, attn_out, resid_mid, mlp_out, resid_post")
      ->capture_default_str();
  sub.add_option("--layers", o->layers, "Layers: all, 0-29, 3,5,7")->capture_default_str();
  sub.add_option("--positions", o->positions,
                 "Positions read, as `steer generate --positions` names them: indices like -5,-4,-3,-2,-1 or -5..-1 "
                 "(negative count back from the prompt's end; one row each), or prompt / after-instruction (averaged "
                 "per prompt; also spelled prompt-mean, after-instruction-mean)")
      ->capture_default_str();
  sub.add_flag("--per-example", o->per_example, "Also save every prompt's activations (float32)");
  sub.add_option("--batch-size", o->batch_size, "Prompts per forward pass")->capture_default_str();
  sub.add_option("--system", o->system, "System message for the chat template");
  sub.add_option("--chat-template", o->chat_template, "A chat template file overriding the model's");
  sub.add_flag("--raw", o->raw, "Encode prompts as plain text (no chat template)");
  sub.add_option("-o,--output", o->output, "Output .safetensors file")->required();

  return [o, &global]() {
    check_output_file("-o", o->output, {o->model, o->prompts});  // before the work; never over an input
    if (!ends_with_ci(o->output, ".safetensors"))
      fail("-o " + o->output + ": activations are written as safetensors", "give a name ending in .safetensors");
    CaptureOptions opt;
    opt.sites.clear();
    std::stringstream ss(o->sites);
    for (std::string s; std::getline(ss, s, ',');) opt.sites.push_back(parse_site_kind(s));
    if (opt.sites.empty()) fail("--sites: no site given", "e.g. --sites resid_pre,resid_post");
    opt.positions = CapturePositions::parse(o->positions);
    opt.keep_examples = o->per_example;
    opt.batch_size = o->batch_size;
    opt.progress = !global.quiet;
    PromptSet prompts = o->files.load(o->prompts, "--prompts");

    auto model = load_model(o->model, global, o->chat_template);
    opt.layers = parse_layer_list(o->layers, model->config().n_layers);
    Activations acts = capture_texts(*model, prompts.instructions(), opt, o->raw, o->system);
    acts.info = {{"model", model->config().name},
                 {"model_arch", model->config().arch},
                 {"model_file", model->path()},
                 {"prompts", prompts.path},
                 {"prompts_sha256", prompts.sha256},
                 {"chat", !o->raw},
                 {"system", o->system},
                 {"version", STEER_VERSION}};
    acts.save(o->output);
    std::cout << "captured " << acts.count() << " prompts × " << opt.sites.size() << " site(s) × " << opt.layers.size()
              << " layer(s) × " << opt.positions.to_string() << " (d_model " << acts.d_model() << ")"
              << (o->per_example ? ", per-example activations kept" : "") << "\nwrote " << o->output << "\n";
    return 0;
  };
}

}  // namespace steer::cli
