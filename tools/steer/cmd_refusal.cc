// steer refusal: the refusal-direction pipeline of Arditi et al. 2024 on one model — sample and
// filter prompts, read every candidate direction, score and select one, evaluate it — into a
// run folder (see steer/refusal.h). With no prompt files it uses the project's own sets.
#include <cstdio>
#include <iostream>

#include "cli.h"
#include "steer/json_text.h"
#include "steer/error.h"
#include "steer/model_cache.h"
#include "prompt_args.h"
#include "refusal_args.h"
#include "steer/refusal.h"
#include "steer/outputs.h"

namespace steer::cli {

int run_refusal_and_report(const Model& model, const RefusalPipelineOptions& opt, const std::string& output) {
  RefusalRun run = run_refusal_pipeline(model, opt, output);
  const nlohmann::json& m = run.metadata;
  std::cout << "refusal tokens: " << json_text(m["refusal_tokens"]) << "\n";
  std::cout << "prompts: " << json_text(m["prompts"]) << "\n";
  std::printf("baseline refusal score: harmful val %.3f, harmless val %.3f\n", run.selection.baseline_harmful,
              run.selection.baseline_harmless);
  if (run.selection.best < 0) {
    std::cout << "every candidate was filtered out — see " << output << "/candidates.csv for why\n";
    return 1;
  }
  const CandidateScore& b = run.selection.candidates[run.selection.best];
  std::printf("selected: position %lld, layer %d (bypass %.3f, induce %.3f, KL %.4f); selection took %.0f s\n",
              (long long)b.position, b.layer, b.bypass, b.induce, b.kl, run.selection.seconds);
  if (!run.selection.fallback.empty()) std::cout << "note: " << run.selection.fallback << "\n";
  if (run.eval) std::cout << "\n" << refusal_summary_markdown(*run.eval) << "\n";
  std::cout << "wrote " << output << "/ (direction.safetensors" << (b.layer >= 1 ? ", direction.gguf" : "")
            << ", candidates.csv, *.svg, " << (run.eval ? "summary.json, report.html, " : "") << "metadata.json)\n";
  return 0;
}

std::function<int()> setup_refusal(CLI::App& sub, const GlobalOptions& global) {
  // The options bind straight to the library's RefusalPipelineOptions: its defaults are the
  // CLI's (shown by capture_default_str), written in one place (steer/refusal.h).
  struct Opts {
    std::string model = kDefaultModelName, harmful, harmless, harmful_test, harmless_test, output = "runs/refusal",
                chat_template, score_layers;
    RefusalPipelineOptions pipeline;
    RefusalEvalArgs eval;
    PromptFileOptions files;
  };
  auto o = std::make_shared<Opts>();
  RefusalPipelineOptions& p = o->pipeline;
  RefusalSelectionOptions& sel = p.selection;
  sub.add_option("model", o->model, "Model: default model name, .gguf or HF directory")->capture_default_str();
  sub.add_option("--harmful", o->harmful, "Harmful prompt pool (default builtin:harmful, the project's own set)");
  sub.add_option("--harmless", o->harmless, "Harmless prompt pool (default builtin:harmless)");
  sub.add_option("--harmful-test", o->harmful_test,
                 "Harmful prompts to evaluate on (default: the pool's prompts not used for train/val), "
                 "e.g. ../shared/data/refusal_direction/dataset/processed/harmbench_test.json");
  sub.add_option("--harmless-test", o->harmless_test, "Harmless prompts to evaluate on (default: the pool's leftovers)");
  o->files.add_to(sub);
  sub.add_option("--n-train", p.n_train, "Train prompts per side, before filtering")->capture_default_str();
  sub.add_option("--n-val", p.n_val, "Val prompts per side, before filtering")->capture_default_str();
  sub.add_option("--n-test", p.n_test, "Test prompts per side (at most)")->capture_default_str();
  sub.add_option("--seed", p.seed, "Sampling seed (Python random.seed semantics, as the paper's code)")
      ->capture_default_str();
  sub.add_flag_callback("--no-filter", [o] { o->pipeline.filter = false; },
               "Keep every sampled prompt (default: keep harmful prompts with refusal score > 0, harmless < 0)");
  sub.add_flag("--strict-filter", p.strict_filter,
               "Fail when filtering keeps fewer than " + std::to_string(p.min_kept) +
                   " prompts of a split (default: warn and use them all)");
  sub.add_option("--fallback-kl", sel.fallback_max_kl,
                 "If every candidate fails the filters, pick the lowest bypass among unpruned ones with KL ≤ this "
                 "(ignoring induce), labelled as a fallback; 0: no pick, as the paper")
      ->capture_default_str()->check(finite_in(0, HUGE_VAL));
  sub.add_option("--kl-threshold", sel.kl_threshold, "Drop candidates whose KL is above this")
      ->capture_default_str()->check(finite_in(0, HUGE_VAL));
  sub.add_option("--prune-layers", sel.prune_layer_fraction, "Drop candidates in the last fraction of layers")
      ->capture_default_str()->check(finite_in(0, 1));
  sub.add_option("--induce-threshold", sel.induce_threshold, "Drop candidates whose induce score is below this")
      ->capture_default_str()->check(finite_in(-HUGE_VAL, HUGE_VAL));
  sub.add_option("--score-layers", o->score_layers,
                 "Score only these layers' candidates (e.g. 18 or 10-14), to re-check a few after a full run; "
                 "the others are listed as not scored");
  sub.add_flag_callback("--skip-pruned", [o] { o->pipeline.selection.score_pruned_layers = false; },
               "Do not score the layers pruned anyway (faster; plots lack them)");
  sub.add_option("--batch-size", p.batch_size, "Prompts per forward pass")->capture_default_str();
  sub.add_flag_callback("--no-eval", [o] { o->pipeline.evaluate = false; }, "Stop after selection");
  o->eval.add_to(sub);
  sub.add_option("--chat-template", o->chat_template, "A chat template file overriding the model's");
  sub.add_option("-o,--output", o->output, "Run folder")->capture_default_str();

  return [o, &global]() {
    check_output_folder("-o", o->output);  // before the work, not after
    RefusalPipelineOptions opt = o->pipeline;
    // Data before the model: a bad file fails fast.
    if (!o->harmful.empty()) opt.harmful = o->files.load(o->harmful, "--harmful");
    if (!o->harmless.empty()) opt.harmless = o->files.load(o->harmless, "--harmless");
    if (!o->harmful_test.empty()) opt.harmful_test = o->files.load(o->harmful_test, "--harmful-test");
    if (!o->harmless_test.empty()) opt.harmless_test = o->files.load(o->harmless_test, "--harmless-test");
    opt.progress = !global.quiet;

    auto model = load_model(o->model, global, o->chat_template);
    if (!o->score_layers.empty())
      opt.selection.layers = steer::parse_layer_list(o->score_layers, model->config().n_layers, "--score-layers");
    std::unique_ptr<RefusalJudge> judge = o->eval.apply(opt.eval, global);
    opt.refusal_tokens = o->eval.refusal_tokens;
    return run_refusal_and_report(*model, opt, o->output);
  };
}

}  // namespace steer::cli
