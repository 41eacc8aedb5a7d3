// steer demo: the README's main job — the refusal-direction pipeline (Arditi et al.) on the
// default model, at a size that finishes in minutes on a laptop-class CPU: fewer train/val
// prompts than the paper's 128/32, the pruned last layers not scored, short completions. On a
// model that rarely refuses (SmolLM2-135M barely does) the paper's filters drop every candidate;
// the demo then shows the lowest-bypass candidate with KL ≤ 1 instead and says so. The full
// protocol is `steer refusal MODEL`.
#include <iostream>

#include "cli.h"
#include "steer/model_cache.h"
#include "refusal_args.h"
#include "steer/refusal.h"

namespace steer::cli {

std::function<int()> setup_demo(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string model = kDefaultModelName, output = "runs/demo";
    size_t n_train = 64, n_val = 16, n_test = 12;
    int max_tokens = 48;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("--model,-m", o->model, "Model to run")->capture_default_str();
  sub.add_option("--n-train", o->n_train, "Train prompts per side (the paper: 128)")->capture_default_str();
  sub.add_option("--n-val", o->n_val, "Val prompts per side (the paper: 32)")->capture_default_str();
  sub.add_option("--n-test", o->n_test, "Test prompts per side")->capture_default_str();
  sub.add_option("--max-tokens,-n", o->max_tokens, "New tokens per evaluation completion")->capture_default_str();
  sub.add_option("-o,--output", o->output, "Run folder")->capture_default_str();
  return [o, &global]() {
    auto model = load_model(o->model, global);
    std::cout << "model: " << model->path() << "\n  " << model->config().describe() << "\n  dtype "
              << dtype_name(model->dtype()) << "\n"
              << "refusal direction (Arditi et al. 2024), demo size: " << o->n_train << " + " << o->n_train
              << " train, " << o->n_val << " + " << o->n_val << " val prompts (the project's own sets)\n\n";
    RefusalPipelineOptions opt;
    opt.n_train = o->n_train;
    opt.n_val = o->n_val;
    opt.n_test = o->n_test;
    opt.progress = !global.quiet;
    opt.selection.score_pruned_layers = false;
    opt.selection.fallback_max_kl = 1.0;
    opt.eval.max_new_tokens = o->max_tokens;
    int rc = run_refusal_and_report(*model, opt, o->output);
    std::cout << "\nopen " << o->output << "/report.html for the plots and example completions; "
              << "the paper's full protocol: steer refusal " << o->model << "\n";
    return rc;
  };
}

}  // namespace steer::cli
