// steer eval-refusal: what a refusal direction does to a model — greedy completions of harmful
// prompts under baseline / ablation / −1·r addition and of harmless prompts under baseline /
// +1·r, judged by the paper's substring list, the first-token refusal score and optionally a
// local judge model; KL and cross-entropy guards. The pipeline (`steer refusal`) runs this too.
#include <iostream>

#include "cli.h"
#include "steer/error.h"
#include "prompt_args.h"
#include "refusal_args.h"
#include "steer/model_cache.h"
#include "steer/directions.h"
#include "steer/metrics.h"
#include "steer/refusal.h"
#include "steer/outputs.h"

namespace steer::cli {

std::function<int()> setup_eval_refusal(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string model = kDefaultModelName, direction, harmful = "builtin:harmful", harmless = "builtin:harmless",
                output, chat_template;
    size_t n = 32;
    RefusalEvalArgs eval;
    PromptFileOptions files;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "Model: default model name, .gguf or HF directory")->capture_default_str();
  sub.add_option("--direction,-d", o->direction,
                 "Direction file[@LAYER] (.safetensors or .gguf), e.g. runs/refusal/direction.safetensors; LAYER "
                 "(the hook_resid_pre layer it was read at) is needed when the file holds several")
      ->required();
  sub.add_option("--harmful", o->harmful, "Harmful prompts (a file, or builtin:harmful)")->capture_default_str();
  sub.add_option("--harmless", o->harmless, "Harmless prompts (a file, or builtin:harmless)")->capture_default_str();
  sub.add_option("--n", o->n, "Prompts per side (the first N)")->capture_default_str();
  o->files.add_to(sub);
  o->eval.add_to(sub);
  sub.add_option("--chat-template", o->chat_template, "A chat template file overriding the model's");
  sub.add_option("-o,--output", o->output, "Output folder (summary.json, summary.csv, summary.md, completions.*, "
                                           "report.html)")
      ->required();

  return [o, &global]() {
    check_output_folder("-o", o->output);  // before the work, not after
    std::string path = o->direction;
    int layer = -1;
    if (auto at = path.rfind('@'); at != std::string::npos) {
      try {
        size_t used = 0;
        layer = std::stoi(path.substr(at + 1), &used);
        if (used != path.size() - at - 1) throw std::invalid_argument("trailing");
      } catch (const std::exception&) {
        fail("--direction: '" + o->direction + "' has no layer number after '@'", "write FILE@LAYER, e.g. dir.safetensors@14");
      }
      path = path.substr(0, at);
    }
    DirectionSet set = load_directions(path);
    if (layer < 0) {
      if (set.layers().size() != 1)
        fail("--direction: " + path + " holds " + std::to_string(set.layers().size()) + " layers",
             "name the one to use: " + path + "@LAYER");
      layer = set.layers()[0];
    }
    if (set.meta().site != SiteKind::kResidPre)
      std::cerr << "note: " << path << " was read at " << site_kind_name(set.meta().site)
                << "; the addition conditions add it at hook_resid_pre of layer " << layer << "\n";
    PromptSet harmful = o->files.load(o->harmful, "--harmful"), harmless = o->files.load(o->harmless, "--harmless");
    if (harmful.items.size() > o->n) harmful.items.resize(o->n);
    if (harmless.items.size() > o->n) harmless.items.resize(o->n);

    auto model = load_model(o->model, global, o->chat_template);
    set.check_compatible(model->config(), "--direction " + path);
    RefusalEvalOptions opt;
    std::unique_ptr<RefusalJudge> judge = o->eval.apply(opt, global);
    if (!o->eval.refusal_tokens.empty()) opt.refusal_tokens = parse_refusal_tokens(*model, o->eval.refusal_tokens);
    opt.progress = !global.quiet;
    RefusalEval ev = evaluate_refusal(*model, set.at_layer(layer), layer, harmful.instructions(),
                                      harmless.instructions(), default_harmless_text(), opt);
    nlohmann::json context = {{"model", {{"path", model->path()}, {"dtype", dtype_name(model->dtype())}}},
                              {"direction", {{"path", path}, {"layer", layer}}},
                              {"datasets", {{"harmful", harmful.path}, {"harmless", harmless.path}}}};
    write_refusal_eval(ev, o->output, context);
    std::cout << refusal_summary_markdown(ev) << "\nwrote " << o->output << "/\n";
    return 0;
  };
}

}  // namespace steer::cli
