// steer suffix: why an adversarial suffix stops refusals — the last token's residual stream
// decomposed into heads and MLPs along a refusal direction, the heads the suffix suppresses and
// where they look (Arditi et al. 2024, §5), into a run folder (see steer/suffix.h).
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cli.h"
#include "prompt_args.h"
#include "steer/directions.h"
#include "steer/error.h"
#include "steer/model_cache.h"
#include "steer/outputs.h"
#include "steer/steering_spec.h"
#include "steer/suffix.h"

namespace steer::cli {

namespace {

// Where the GCG suffixes of the shared data are, unless --suffix / --suffixes say otherwise.
std::string default_suffix_file() {
  const char* env = std::getenv("STEER_SUFFIXES");
  return env && *env ? env : "../shared/data/jailbreak/strongreject/wrapping_jailbreaks.json";
}

}  // namespace

std::function<int()> setup_suffix(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string model = kDefaultModelName, direction, suffixes_file, harmful = "builtin:harmful", output = "runs/suffix",
                chat_template;
    std::vector<std::string> suffixes;
    size_t n = 32;
    SuffixOptions suffix;
    PromptFileOptions files;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "Model: default model name, .gguf or HF directory")->capture_default_str();
  sub.add_option("--direction,-d", o->direction,
                 "Refusal direction FILE[@LAYER] (e.g. a `steer refusal` run's direction.safetensors), or the run "
                 "folder itself")
      ->required();
  sub.add_option("--suffix", o->suffixes, "An adversarial suffix (repeat for several)");
  sub.add_option("--suffixes", o->suffixes_file,
                 "Suffix file: JSON {name: \"{forbidden_prompt} SUFFIX\"} (StrongREJECT's wrapping_jailbreaks.json: "
                 "its gcg_* entries), a JSON list, or one suffix per line. Default without --suffix: $STEER_SUFFIXES "
                 "or ../shared/data/jailbreak/strongreject/wrapping_jailbreaks.json");
  sub.add_option("--harmful", o->harmful, "Harmful prompts (a file, or builtin:harmful)")->capture_default_str();
  sub.add_option("--n", o->n, "Prompts (the first N)")->capture_default_str();
  sub.add_option("--separator", o->suffix.separator, "Text between the request and the suffix (default: one space)");
  sub.add_option("--top", o->suffix.top_heads, "Heads ranked and shown with their attention")->capture_default_str();
  sub.add_option("--batch-size", o->suffix.batch_size, "Prompts per forward pass")->capture_default_str();
  sub.add_option("--system", o->suffix.system, "System message");
  o->files.add_to(sub);
  sub.add_option("--chat-template", o->chat_template, "A chat template file overriding the model's");
  sub.add_option("-o,--output", o->output, "Run folder (summary.json, heads.csv, layers.csv, *.svg, report.html)")
      ->capture_default_str();

  return [o, &global]() {
    check_output_folder("-o", o->output);  // before the work, not after
    SuffixOptions opt = o->suffix;
    opt.progress = !global.quiet;
    std::string direction = o->direction;
    if (std::filesystem::is_directory(direction)) direction += "/direction.safetensors";
    PickedDirection picked = pick_direction(direction, "--direction");
    opt.direction = picked.vector;
    opt.direction_layer = picked.layer;
    opt.direction_file = picked.file;
    for (size_t i = 0; i < o->suffixes.size(); ++i) {
      opt.suffixes.push_back(o->suffixes[i]);
      opt.suffix_names.push_back("suffix " + std::to_string(i + 1));
    }
    if (!o->suffixes_file.empty() || o->suffixes.empty()) {
      const bool given = !o->suffixes_file.empty();
      const std::string file = given ? o->suffixes_file : default_suffix_file();
      if (!given && !std::filesystem::exists(file))
        fail("no suffix given, and the default suffix file " + file + " is not there",
             "give --suffix TEXT or --suffixes FILE (or set STEER_SUFFIXES)");
      const bool strongreject = std::filesystem::path(file).filename() == "wrapping_jailbreaks.json";
      for (const NamedSuffix& s : load_suffixes(file, strongreject ? "gcg" : "")) {
        opt.suffixes.push_back(s.text);
        opt.suffix_names.push_back(s.name);
      }
    }
    PromptSet harmful = o->files.load(o->harmful, "--harmful");
    if (harmful.items.size() > o->n) harmful.items.resize(o->n);
    opt.instructions = harmful.instructions();
    check_suffix_options(opt);  // before the model loads
    auto model = load_model(o->model, global, o->chat_template);
    SuffixRun run = compute_suffix_run(*model, opt);
    run.metadata["datasets"] = {{"harmful", harmful.path}};
    write_suffix_run(run, o->output);

    std::printf("refusal score (> 0: refuses)  plain %+.3f [%+.3f, %+.3f]  share %.2f\n", run.refusal_plain.mean,
                run.refusal_plain.lo, run.refusal_plain.hi, run.refusal_rate_plain);
    for (size_t s = 0; s < run.suffix_names.size(); ++s)
      std::printf("  with %-28s %+.3f [%+.3f, %+.3f]  share %.2f\n", run.suffix_names[s].c_str(),
                  run.refusal_suffixed[s].mean, run.refusal_suffixed[s].lo, run.refusal_suffixed[s].hi,
                  run.refusal_rate_suffixed[s]);
    std::printf("%-8s %22s %10s %10s %9s\n", "head", "suppression [95% CI]", "plain", "suffixed", "->suffix");
    for (const HeadScore& h : run.top_heads)
      std::printf("L%-2dH%-4d %+7.3f [%+.3f, %+.3f] %+10.3f %+10.3f %9.2f\n", h.layer, h.head, h.suppression.mean,
                  h.suppression.lo, h.suppression.hi, h.plain, h.suffixed, h.attention_suffixed[2]);
    std::printf("took %.0f s; wrote %s/ (summary.json, heads.csv, layers.csv, *.svg, report.html)\n",
                double(run.metadata["seconds"]), o->output.c_str());
    return 0;
  };
}

}  // namespace steer::cli
