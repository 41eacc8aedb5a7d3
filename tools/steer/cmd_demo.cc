// steer demo: the README's main job — the result of Arditi et al. 2024 (refusal is mediated by a
// single direction) shown in a few minutes on a CPU, on a small chat model that refuses:
// Qwen2.5-Coder-0.5B-Instruct by default (SmolLM2-135M, every other verb's default, does not
// refuse, so there is nothing to remove there). It is the refusal pipeline at demo size: fewer
// train/val prompts than the paper's 128/32, one layer's candidates scored (the last layer the
// paper's pruning keeps), short completions, and the labelled KL ≤ 1 fallback when every
// candidate fails the paper's filters (they all do on this model; docs/results.md). It says all
// this on stdout and in the report. The full protocol is `steer refusal MODEL`.
#include <iostream>
#include <sstream>

#include "cli.h"
#include "steer/model_cache.h"
#include "refusal_args.h"
#include "steer/capture.h"
#include "steer/refusal.h"
#include "steer/outputs.h"

namespace steer::cli {
namespace {

constexpr const char* kDemoModelName = "qwen2.5-coder-0.5b";

}  // namespace

std::function<int()> setup_demo(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string model = kDemoModelName, output = "runs/demo", score_layers;
    size_t n_train = 64, n_val = 16, n_test = 32;
    int max_tokens = 16, eval_batch = 32;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("--model,-m", o->model, "Model to run (a chat model that refuses shows the effect)")
      ->capture_default_str();
  sub.add_option("--n-train", o->n_train, "Train prompts per side (the paper: 128)")->capture_default_str();
  sub.add_option("--n-val", o->n_val, "Val prompts per side (the paper: 32)")->capture_default_str();
  sub.add_option("--n-test", o->n_test, "Test prompts per side")->capture_default_str();
  sub.add_option("--score-layers", o->score_layers,
                 "Layers whose candidates are scored (default: the last one below the pruned top 20 %; all: every "
                 "unpruned layer, as the paper)");
  sub.add_option("--max-tokens,-n", o->max_tokens, "New tokens per evaluation completion")->capture_default_str();
  sub.add_option("--eval-batch", o->eval_batch, "Prompts per generation batch")->capture_default_str();
  sub.add_option("-o,--output", o->output, "Run folder")->capture_default_str();
  return [o, &global]() {
    check_output_folder("-o", o->output);  // before the work, not after
    auto model = load_model(o->model, global);
    RefusalPipelineOptions opt;
    const int n_layers = model->config().n_layers;
    // The paper prunes layers ≥ int(0.8 · n_layers); the demo scores the last layer below them.
    const int first_pruned = static_cast<int>(n_layers * (1.0 - opt.selection.prune_layer_fraction));
    const std::string layers = o->score_layers.empty() ? std::to_string(first_pruned - 1) : o->score_layers;
    opt.selection.layers = parse_layer_list(layers, n_layers);
    opt.n_train = o->n_train;
    opt.n_val = o->n_val;
    opt.n_test = o->n_test;
    opt.progress = !global.quiet;
    opt.selection.score_pruned_layers = false;
    opt.selection.fallback_max_kl = 1.0;
    opt.eval.max_new_tokens = o->max_tokens;
    opt.eval.batch_size = o->eval_batch;
    // The capability guard at demo size: cross-entropy on 12 of the 40 harmless texts, 128 tokens
    // each (with a 150k-token vocabulary, all 40 at 256 tokens cost more than the completions).
    opt.eval.ce_texts = 12;
    opt.eval.ce_max_tokens = 128;

    std::ostringstream size;
    size << o->n_train << " + " << o->n_train << " train, " << o->n_val << " + " << o->n_val << " val, up to "
         << o->n_test << " + " << o->n_test << " test prompts (the project's own sets; the paper: 128 + 128 train, "
         << "32 + 32 val); candidates scored at layer(s) " << layers
         << (o->score_layers.empty() ? " only, the last layer the paper's pruning keeps (layers ≥ " +
                                           std::to_string(first_pruned) + " are pruned), to keep the run short"
                                     : "")
         << "; " << o->max_tokens << "-token greedy completions; cross-entropy on 12 harmless texts of 128 tokens; "
         << "if every candidate fails the paper's filters, "
         << "the lowest bypass with KL ≤ 1 is shown, labelled as a fallback. The full protocol: steer refusal "
         << o->model << ".";
    opt.note = "steer demo, demo size: " + size.str();
    std::cout << "model: " << model->path() << "\n  " << model->config().describe() << "\n  dtype "
              << dtype_name(model->dtype()) << "\n"
              << "refusal direction (Arditi et al. 2024), demo size: " << size.str() << "\n\n";
    int rc = run_refusal_and_report(*model, opt, o->output);
    std::cout << "\ndemo size (" << o->n_test << " test prompts per side at most: read the rates with their n); "
              << "open " << o->output << "/report.html for the plots and example completions; "
              << "the paper's full protocol: steer refusal " << o->model << "\n";
    return rc;
  };
}

}  // namespace steer::cli
