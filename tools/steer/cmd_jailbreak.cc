// steer jailbreak: jailbreak-class vectors, what they share, whether each class jailbreaks the
// model, harmfulness suppression and the cross-mitigation matrix (Ball et al. 2024) — into a run
// folder (see steer/jailbreak.h).
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cli.h"
#include "prompt_args.h"
#include "refusal_args.h"
#include "steer/error.h"
#include "steer/jailbreak.h"
#include "steer/model_cache.h"
#include "steer/outputs.h"

namespace steer::cli {

std::function<int()> setup_jailbreak(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string model = kDefaultModelName, harmful, harmless, templates, placeholder = "prompt", refusal,
                output = "runs/jailbreak", mitigation_classes, chat_template;
    bool replace_templates = false, no_mitigation = false, strip_thinking = false;
    RefusalEvalArgs judge;  // --judge-model, --judge-rubric, --thinking-markers
    PromptFileOptions files;
    JailbreakOptions jb;
  };
  auto o = std::make_shared<Opts>();
  JailbreakOptions& j = o->jb;
  sub.footer(
      "What it does: wraps each harmful prompt in every jailbreak class (a template with {prompt}), reads the "
      "residual stream (hook_resid_post) at the last prompt token of wrapped and plain prompts, and takes each "
      "class's mean difference as its jailbreak vector, at every layer. It then asks: does the class make the "
      "model stop refusing (greedy completions; substring judge, first-token refusal score, optionally a judge "
      "model), does it lower the prompts' projection on the harmfulness direction, how similar are the classes' "
      "vectors (cosine matrix, by layer, PCA), and does subtracting one class's vector stop another class's "
      "jailbreak (cross-mitigation, against a random vector of the same norm).\n\n"
      "Templates: the project's 11 classes (prefix_injection, refusal_suppression, style_injection, "
      "roleplay_persona, distractors, payload_split, few_shot, base64, disemvowel, translation, "
      "adversarial_suffix); --templates FILE (a JSON object {name: template}) adds or replaces classes, "
      "--replace-templates uses only the file's. Placeholders: {prompt}, {prompt_base64}, {prompt_leetspeak}, "
      "{prompt_disemvowel}, {prompt_part1}/{prompt_part2}; --placeholder forbidden_prompt reads StrongREJECT's "
      "wrapping_jailbreaks.json.\n\n"
      "Cost: (1 + classes) x --n prompts generate --max-tokens tokens each, and the cross-mitigation matrix "
      "(classes + 2 or 3) x classes x --mitigation-n more; all batched. --no-mitigation skips it.\n\n"
      "Example:\n  steer jailbreak smollm2-135m --n 8 --mitigation-n 4 -o runs/jb-smol\n"
      "  steer jailbreak qwen2.5-coder-0.5b --refusal runs/qwen -o runs/jb-qwen\n"
      "  steer jailbreak qwen2.5-coder-0.5b --templates ../shared/data/jailbreak/strongreject/wrapping_jailbreaks.json "
      "--placeholder forbidden_prompt --replace-templates --no-mitigation");
  sub.add_option("model", o->model, "Model: default model name, .gguf or HF directory")->capture_default_str();
  sub.add_option("--harmful", o->harmful, "Harmful prompts file (default: the project's set)");
  sub.add_option("--harmless", o->harmless, "Harmless prompts file for the harmfulness direction (default: the project's set)");
  o->files.add_to(sub);
  sub.add_option("--templates", o->templates, "A JSON templates file {name: template}: adds or replaces classes");
  sub.add_flag("--replace-templates", o->replace_templates, "Use only the --templates file's classes");
  sub.add_option("--placeholder", o->placeholder, "The placeholder word of the templates file")->capture_default_str();
  sub.add_option("--refusal", o->refusal,
                 "A `steer refusal` run folder (its direction.safetensors) or a direction file: cosines with it, and "
                 "a cross-mitigation row with it added");
  sub.add_option("--layer", j.layer, "Steering and cosine layer (-1: round(19/40 x layers), the paper's 19 of 40)")
      ->capture_default_str();
  sub.add_option("--n", j.n_prompts, "Harmful prompts per class (vectors and refusal rates)")->capture_default_str();
  sub.add_option("--n-harmless", j.n_harmless, "Harmless prompts for the harmfulness direction")->capture_default_str();
  sub.add_option("--max-tokens", j.max_new_tokens, "New tokens per completion (greedy)")->capture_default_str();
  sub.add_option("--mitigation-n", j.n_mitigation, "Prompts per cross-mitigation cell")->capture_default_str();
  sub.add_option("--mitigation-classes", o->mitigation_classes, "Comma-separated classes in the matrix (default: all)");
  sub.add_flag("--no-mitigation", o->no_mitigation, "Skip the cross-mitigation matrix");
  sub.add_option("--judge-model", o->judge.judge_model, "A local chat model judging refusals too (rates per class)");
  sub.add_option("--judge-rubric", o->judge.judge_rubric, "refusal (yes/no), llama-guard (safe/unsafe) or a rubric JSON file")
      ->capture_default_str();
  sub.add_flag("--strip-thinking", o->strip_thinking,
               "Chain-of-thought judging: judge only the answer outside <think>…</think>; unclosed thinking = no verdict");
  sub.add_option("--thinking-markers", o->judge.thinking_markers, "The thinking marker pair OPEN,CLOSE")->capture_default_str();
  sub.add_option("--seed", j.seed, "Seed of the prompt sample and the random control vector")->capture_default_str();
  sub.add_option("--batch-size", j.batch_size, "Rows per forward pass / decode batch")->capture_default_str();
  sub.add_option("--chat-template", o->chat_template, "A chat template file overriding the model's");
  sub.add_option("-o,--output", o->output, "Run folder")->capture_default_str();
  return [o, &global]() {
    check_output_folder("-o", o->output);  // before the work, not after
    JailbreakOptions opt = o->jb;
    opt.progress = !global.quiet;
    opt.mitigation = !o->no_mitigation;
    if (!o->harmful.empty()) opt.harmful = o->files.load(o->harmful, "--harmful").instructions();
    if (!o->harmless.empty()) opt.harmless = o->files.load(o->harmless, "--harmless").instructions();
    if (!o->templates.empty()) {
      std::vector<JailbreakClass> extra = load_jailbreak_templates(o->templates, o->placeholder);
      opt.classes = o->replace_templates ? extra : merge_jailbreak_classes(default_jailbreak_classes(), extra);
    } else if (o->replace_templates) {
      fail("--replace-templates: no --templates file given");
    }
    std::stringstream ss(o->mitigation_classes);
    for (std::string c; std::getline(ss, c, ',');)
      if (!c.empty()) opt.mitigation_classes.push_back(c);
    if (!o->refusal.empty()) {
      std::string path = o->refusal;
      if (std::filesystem::is_directory(path)) path += "/direction.safetensors";
      if (!std::filesystem::exists(path))
        fail("--refusal: " + path + " does not exist", "give a `steer refusal` run folder or a direction file");
      opt.refusal = load_directions(path);
    }
    opt.thinking = o->judge.thinking(o->strip_thinking);
    if (!o->judge.judge_model.empty()) o->judge.rubric();  // a bad rubric fails before any model loads
    check_jailbreak_options(opt);                           // before the model loads
    auto model = load_model(o->model, global, o->chat_template);
    std::unique_ptr<RefusalJudge> judge = o->judge.load_judge(opt.thinking, global);
    opt.judge = judge.get();
    JailbreakRun run = compute_jailbreak_run(*model, opt);
    write_jailbreak_run(run, o->output);
    std::printf("%-22s %9s %9s %9s %9s %8s\n", "class", "plain", "wrapped", "1st-tok", "cos(h)", "cos(r)");
    for (const JailbreakClassResult& c : run.classes)
      std::printf("%-22s %8.0f%% %8.0f%% %8.0f%% %+9.3f %8s\n", c.name.c_str(), 100 * c.refusal_plain.mean,
                  100 * c.refusal_wrapped.mean, 100 * c.score_refusal_wrapped.mean, c.cos_harmfulness,
                  c.cos_refusal ? std::to_string(*c.cos_refusal).substr(0, 6).c_str() : "-");
    std::printf("layer %d: mean pairwise cosine %.3f\n", run.layer, run.mean_pairwise_cosine.at(size_t(run.layer)));
    if (run.mitigation) {
      double mean_asr = 0, diag = 0, rnd = 0, un = 0;
      const CrossMitigation& m = *run.mitigation;
      for (size_t y = 0; y < m.names.size(); ++y) {
        for (size_t x = 0; x < m.names.size(); ++x) mean_asr += m.asr[x][y];
        diag += m.asr[y][y];
        rnd += m.random_control[y];
        un += m.unsteered[y];
      }
      const double ny = double(m.names.size());
      std::printf("cross-mitigation (n=%zu per cell): attack success unsteered %.2f, random %.2f, own vector %.2f, "
                  "mean over pairs %.2f\n",
                  m.n, un / ny, rnd / ny, diag / ny, mean_asr / (ny * ny));
    }
    std::printf("took %.0f s; wrote %s/ (summary.json, vectors/, *.csv, *.svg, report.html)\n",
                double(run.metadata["seconds"]), o->output.c_str());
    return 0;
  };
}

}  // namespace steer::cli
