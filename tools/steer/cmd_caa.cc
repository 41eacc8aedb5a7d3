// steer caa: Contrastive Activation Addition (Rimsky et al. 2023) on one behaviour — vectors per
// layer from A/B pairs, layer × multiplier sweeps of p(matching answer), few-shot and fine-tuning
// baselines with steering stacked, the MMLU / TruthfulQA guard, open-ended answers, analyses — into a run
// folder (see steer/caa.h). With no data options it uses the project's own sycophancy set.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli.h"
#include "steer/caa.h"
#include "steer/error.h"
#include "steer/model_cache.h"
#include "steer/sites.h"
#include "steer/outputs.h"

namespace steer::cli {
namespace {

// "-1,0,1" or a range "-2:2:0.5" (start:stop:step, stop included).
std::vector<double> parse_multipliers(const std::string& text, const std::string& option) {
  auto number = [&](const std::string& s) {
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || std::abs(v) > 1e4)
      fail(option + ": '" + s + "' is not a multiplier", "multipliers are numbers, e.g. -1,0,1 or -2:2:0.5");
    return v;
  };
  std::vector<double> out;
  if (text.find(':') != std::string::npos) {
    std::vector<std::string> parts;
    std::stringstream ss(text);
    for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
    if (parts.size() != 3) fail(option + ": a range is start:stop:step, got '" + text + "'");
    const double a = number(parts[0]), b = number(parts[1]), step = number(parts[2]);
    if (!(step > 0) || b < a) fail(option + ": '" + text + "' needs start ≤ stop and step > 0");
    for (int i = 0; a + i * step <= b + 1e-9 && i < 1000; ++i) out.push_back(std::round((a + i * step) * 1e9) / 1e9);
  } else {
    std::stringstream ss(text);
    for (std::string p; std::getline(ss, p, ',');) out.push_back(number(p));
  }
  if (out.empty()) fail(option + ": no multipliers given");
  return out;
}

// CAA's dataset folder: --data, else $STEER_CAA_DATA, else ../shared/data/caa/datasets when it
// exists (the project's checkout layout), else none (the builtin sets).
std::string find_data_dir(const std::string& given) {
  if (!given.empty()) {
    if (!std::filesystem::is_directory(given)) fail("--data: " + given + " is not a folder");
    return given;
  }
  if (const char* env = std::getenv("STEER_CAA_DATA"); env && *env) return env;
  const std::string local = "../shared/data/caa/datasets";
  return std::filesystem::is_directory(local) ? local : "";
}

}  // namespace

std::function<int()> setup_caa(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string model = kDefaultModelName, behavior = "sycophancy", data, train, test, open_ended, output,
                vectors, layers, multipliers, layer_multipliers, stacked, mmlu, truthfulqa, normalize_with, compare, chat_template,
                system_side, judge_model, compare_model;
    bool no_guard = false;
    CaaOptions caa;
  };
  auto o = std::make_shared<Opts>();
  CaaOptions& c = o->caa;
  sub.add_option("model", o->model, "Model: default model name, .gguf or HF directory")->capture_default_str();
  sub.add_option("--behavior", o->behavior,
                 "Behaviour: a folder of CAA's layout under --data (sycophancy, refusal, hallucination, "
                 "myopic-reward, survival-instinct, coordinate-other-ais, ...); without data, the project's own "
                 "refusal or sycophancy set")
      ->capture_default_str();
  sub.add_option("--data", o->data,
                 "CAA's datasets folder (generate/<b>/generate_dataset.json, test/<b>/test_dataset_ab.json, "
                 "test/mmlu, test/truthfulqa); default $STEER_CAA_DATA or ../shared/data/caa/datasets if present");
  sub.add_option("--train", o->train, "A/B file for the vectors (instead of --behavior's)");
  sub.add_option("--test", o->test, "A/B file to score (instead of --behavior's)");
  sub.add_option("--open-ended", o->open_ended, "JSON list of {question} for open-ended answers");
  sub.add_option("--max-train", c.max_train, "Train pairs used (seeded sample when more)")->capture_default_str();
  sub.add_option("--max-test", c.max_test, "Test questions scored (seeded sample when more)")->capture_default_str();
  sub.add_option("--seed", c.seed, "Sampling seed")->capture_default_str();
  sub.add_option("--system", c.system, "System message for vectors and scoring (any text)");
  sub.add_option("--system-prompt", o->system_side,
                 "The paper's system prompt for the behaviour: pos (elicits it) or neg (suppresses it); for "
                 "sycophancy, hallucination, refusal, myopic-reward, survival-instinct, coordinate-other-ais, "
                 "corrigible-neutral-HHH, power-seeking-inclination")
      ->check(CLI::IsMember({"pos", "neg"}));
  sub.add_option("--layers", o->layers, "Layers of the layer sweep (e.g. 4-20; default every layer)");
  sub.add_option("--layer", c.layer, "Use this layer instead of the sweep's best");
  sub.add_option("--layer-multipliers", o->layer_multipliers, "Multipliers of the layer sweep (default -1,0,1)");
  sub.add_option("--multipliers", o->multipliers,
                 "Multipliers at the best layer: a list or start:stop:step (default -2:2:0.5)");
  sub.add_option("--few-shot", c.few_shot, "Examples per few-shot baseline prompt (0: no baseline)")
      ->capture_default_str();
  sub.add_option("--finetune", c.finetune_steps,
                 "Fine-tuning baseline: Adam steps towards the matching and towards the not matching answers of "
                 "the train pairs (all decoder weights, float32), scored with steering stacked (0: skipped; a few "
                 "hundred is the paper's scale; ~4 s a step on SmolLM2-135M, batch 4, on a 2-core CPU)")
      ->capture_default_str();
  sub.add_option("--finetune-batch", c.finetune_batch, "Train pairs per fine-tuning step")->capture_default_str();
  sub.add_option("--finetune-lr", c.finetune_lr, "Fine-tuning learning rate (Adam)")->capture_default_str();
  sub.add_option("--stacked", o->stacked,
                 "Multipliers stacked on the baselines, used in the guard and open-ended answers (default -1,1)");
  sub.add_option("--normalize-with", o->normalize_with,
                 "Other behaviours' vector files (comma-separated, e.g. runs/caa-refusal/vectors.safetensors): "
                 "rescale this behaviour's vectors per layer to the mean norm of all, as the paper does");
  sub.add_option("--vectors", o->vectors,
                 "Score these vectors (hook_resid_post, e.g. another run's vectors.safetensors) instead of "
                 "extracting them from the train set");
  sub.add_option("--compare-vectors", o->compare,
                 "Vector files to compare with, comma-separated, NAME=FILE or FILE (named by its folder): other "
                 "behaviours' vectors, or this behaviour's from another model of the same shape; cosine per layer");
  sub.add_option("--compare-model", o->compare_model,
                 "Another model of the same width (e.g. the base model of this chat model): its vectors from the "
                 "same train pairs, cosine per layer with this model's (the paper's base-vs-chat comparison)");
  sub.add_option("--mmlu", o->mmlu, "MMLU A/B file for the capability guard (default: --data's test/mmlu/mmlu.json)");
  sub.add_option("--truthfulqa", o->truthfulqa,
                 "TruthfulQA A/B file for the guard (default: --data's test/truthfulqa/truthful_qa.json)");
  sub.add_option("--max-guard", c.max_guard, "Questions per guard set")->capture_default_str();
  sub.add_flag("--no-guard", o->no_guard, "Skip the MMLU / TruthfulQA guard");
  sub.add_option("--judge-model", o->judge_model,
                 "A local judge model (default name, .gguf or HF directory) scoring the open-ended answers 0-10 "
                 "under the behaviour's rubric, checked on the project's hand-labelled answers");
  sub.add_option("--judge-batch", c.judge_batch, "Answers per judge batch")->capture_default_str();
  sub.add_option("--open-ended-count", c.max_open_ended, "Open-ended questions answered (0: none)")
      ->capture_default_str();
  sub.add_option("--open-ended-tokens", c.open_ended_tokens, "Tokens per open-ended answer")->capture_default_str();
  sub.add_option("--batch-size", c.batch_size, "Prompts (or settings) per forward pass")->capture_default_str();
  sub.add_option("--chat-template", o->chat_template, "A chat template file overriding the model's");
  sub.add_option("-o,--output", o->output, "Run folder (default runs/caa-<behavior>)");

  return [o, &global]() {
    CaaOptions opt = o->caa;
    opt.progress = !global.quiet;
    // Data before the model: a bad file fails fast.
    const std::string data = find_data_dir(o->data);
    if (!o->train.empty() || !o->test.empty()) {
      if (o->train.empty() || o->test.empty()) fail("--train and --test go together");
      opt.data.behavior = o->behavior;
      opt.data.train = load_ab_set(o->train);
      opt.data.test = load_ab_set(o->test);
      opt.data.source = "files";
    } else {
      opt.data = load_caa_behavior(o->behavior, data, opt.seed);
    }
    if (!o->system_side.empty()) {
      if (!opt.system.empty()) fail("--system and --system-prompt go one at a time");
      opt.system = caa_system_prompt(opt.data.behavior, o->system_side);
    }
    if (!o->open_ended.empty()) {
      PromptFormat f;
      f.field = "question";
      opt.data.open_ended.clear();
      for (const Prompt& p : load_prompts(o->open_ended, f).items) opt.data.open_ended.push_back(p.instruction);
    }
    if (!o->multipliers.empty()) opt.multipliers = parse_multipliers(o->multipliers, "--multipliers");
    if (!o->layer_multipliers.empty())
      opt.layer_multipliers = parse_multipliers(o->layer_multipliers, "--layer-multipliers");
    if (!o->stacked.empty()) opt.stacked_multipliers = parse_multipliers(o->stacked, "--stacked");
    if (!o->no_guard) {
      auto guard_file = [&](const std::string& given, const std::string& rel) {
        if (!given.empty()) return load_ab_set(given);
        const std::filesystem::path p = std::filesystem::path(data) / rel;
        return (!data.empty() && std::filesystem::exists(p)) ? load_ab_set(p.string()) : ABSet{};
      };
      opt.mmlu = guard_file(o->mmlu, "test/mmlu/mmlu.json");
      opt.truthfulqa = guard_file(o->truthfulqa, "test/truthfulqa/truthful_qa.json");
    }
    if (!o->normalize_with.empty()) {
      std::stringstream ss(o->normalize_with);
      for (std::string f; std::getline(ss, f, ',');) opt.normalize_with.push_back(load_directions(f));
    }
    if (!o->compare.empty()) {
      std::stringstream ss(o->compare);
      for (std::string item; std::getline(ss, item, ',');) {
        const size_t eq = item.find('=');
        const std::string file = eq == std::string::npos ? item : item.substr(eq + 1);
        std::string name = eq == std::string::npos ? std::filesystem::path(file).parent_path().filename().string()
                                                   : item.substr(0, eq);
        if (name.empty()) name = std::filesystem::path(file).stem().string();
        opt.compare.push_back({name, load_directions(file)});
      }
    }
    if (!o->vectors.empty()) opt.vectors = load_directions(o->vectors);
    const std::string output = o->output.empty() ? "runs/caa-" + opt.data.behavior : o->output;
    check_output_folder("-o", output);  // before the work, not after

    check_caa_options(opt);  // before any model loads
    auto model = load_model(o->model, global, o->chat_template);
    if (!o->layers.empty()) opt.layers = parse_layer_list(o->layers, model->config().n_layers, "--layers");
    for (const DirectionSet& s : opt.normalize_with) s.check_compatible(model->config(), "--normalize-with");
    if (opt.vectors) opt.vectors->check_compatible(model->config(), "--vectors");
    if (!o->compare_model.empty()) opt.compare_model = load_model(o->compare_model, global, o->chat_template);
    if (!o->judge_model.empty()) {
      behavior_score_rubric(opt.data.behavior);  // no rubric: fail before loading the judge
      opt.judge = load_model(o->judge_model, global, "");
    }
    CaaRun run = compute_caa_run(*model, opt);
    write_caa_run(run, output);

    if (opt.vectors)
      std::printf("%s: vectors from %s, %zu test questions (%s)\n", opt.data.behavior.c_str(), o->vectors.c_str(),
                  size_t(run.metadata["layer_sweep"]["questions"]), opt.data.source.c_str());
    else
      std::printf("%s: %zu train pairs, %zu test questions (%s)\n", opt.data.behavior.c_str(),
                  size_t(run.metadata["vectors"]["n_pairs"]), size_t(run.metadata["layer_sweep"]["questions"]),
                  opt.data.source.c_str());
    std::printf("best layer %d: p(+1) - p(-1) = %.3f%s\n", run.best.layer, run.best.effect,
                run.best.monotone ? "" : " (no layer is monotone in the multiplier)");
    std::printf("%-52s %8s %17s %9s\n", "condition", "p", "95% interval", "delta");
    auto print = [](const std::vector<CaaScore>& scores) {
      for (const CaaScore& s : scores)
        std::printf("%-52s %8.3f   [%.3f, %.3f] %+9.3f%s\n", s.condition.c_str(), s.p.mean, s.p.lo, s.p.hi, s.delta.mean,
                    s.delta.contains(0) && s.multiplier != 0 ? "  (within noise)" : "");
    };
    print(run.multiplier_scores);
    print(run.baselines);
    print(run.guard);
    for (const JudgedCondition& j : run.open_ended_scores)
      std::printf("open-ended, judge's score m=%+g: %.2f [%.2f, %.2f] (%zu scored, %zu without a score)\n", j.multiplier,
                  j.score.mean, j.score.lo, j.score.hi, j.scored, j.unscored);
    if (run.judge_check)
      std::printf("judge on %zu hand-labelled answers: %.0f%% on the label's side, mean |error| %.1f, %zu without a score\n",
                  run.judge_check->items.size(), 100 * run.judge_check->accuracy, run.judge_check->mean_abs_error,
                  run.judge_check->unscored);
    std::printf("took %.0f s; wrote %s/ (summary.json, vectors.safetensors, vectors.gguf, *.csv, *.svg, report.html)\n",
                double(run.metadata["seconds"]), output.c_str());
    return 0;
  };
}

}  // namespace steer::cli
