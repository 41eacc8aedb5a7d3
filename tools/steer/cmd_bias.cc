// steer bias: bias vectors per domain from StereoSet (Lu & Rimsky 2024, with CAA's recipe), the
// bias score under steering, the domains' vectors compared, bias against refusal — into a run
// folder (see steer/bias.h).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "cli.h"
#include "steer/bias.h"
#include "steer/error.h"
#include "steer/model_cache.h"
#include "steer/outputs.h"

namespace steer::cli {

std::function<int()> setup_bias(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string model = kDefaultModelName, stereoset, domains = "gender,race,religion", refusal, output = "runs/bias", compare_model,
                chat_template;
    BiasOptions bias;
  };
  auto o = std::make_shared<Opts>();
  BiasOptions& b = o->bias;
  sub.add_option("model", o->model, "Model: default model name, .gguf or HF directory")->capture_default_str();
  sub.add_option("--stereoset", o->stereoset,
                 "Folder of <domain>_test.json StereoSet intrasentence files (EditBias layout); default "
                 "$STEER_STEREOSET or ../shared/data/stereoset/editbias-intrasentence-dev");
  sub.add_option("--domains", o->domains, "Comma-separated domains")->capture_default_str();
  sub.add_option("--max-train", b.max_train, "Train items per domain")->capture_default_str();
  sub.add_option("--max-test", b.max_test, "Held-out items per domain")->capture_default_str();
  sub.add_option("--seed", b.seed, "Seed of the option order and the split")->capture_default_str();
  sub.add_option("--system", b.system, "System message");
  sub.add_option("--refusal", o->refusal,
                 "A refusal direction (a `steer refusal` run's direction.safetensors): bias with it ablated / added");
  sub.add_option("--refusal-prompts", b.n_refusal_prompts, "Harmful and harmless prompts for the refusal score")
      ->capture_default_str();
  sub.add_option("--batch-size", b.batch_size, "Prompts (or settings) per forward pass")->capture_default_str();
  sub.add_option("--compare-model", o->compare_model,
                 "Another model of the same shape: each domain's vectors from the same items, cosine per layer "
                 "with this model's, and the domains' cosines in that model");
  sub.add_option("--chat-template", o->chat_template, "A chat template file overriding the model's");
  sub.add_option("-o,--output", o->output, "Run folder")->capture_default_str();
  return [o, &global]() {
    check_output_folder("-o", o->output);  // before the work, not after
    BiasOptions opt = o->bias;
    opt.progress = !global.quiet;
    std::string dir = o->stereoset;
    if (dir.empty()) {
      const char* env = std::getenv("STEER_STEREOSET");
      dir = env && *env ? env : "../shared/data/stereoset/editbias-intrasentence-dev";
    }
    if (!std::filesystem::is_directory(dir))
      fail("--stereoset: " + dir + " is not a folder", "give the folder holding gender_test.json, race_test.json, ...");
    std::vector<std::string> domains;
    std::stringstream ss(o->domains);
    for (std::string d; std::getline(ss, d, ',');)
      if (!d.empty()) domains.push_back(d);
    if (domains.empty()) fail("--domains: no domain given");
    opt.items = load_stereoset_domains(dir, domains);
    if (!o->refusal.empty()) opt.refusal = load_directions(o->refusal);
    check_bias_options(opt);  // before the model loads
    auto model = load_model(o->model, global, o->chat_template);
    if (opt.refusal) opt.refusal->check_compatible(model->config(), "--refusal");
    if (!o->compare_model.empty()) opt.compare_model = load_model(o->compare_model, global, o->chat_template);
    BiasRun run = compute_bias_run(*model, opt);
    write_bias_run(run, o->output);
    std::printf("%-10s %5s %5s %8s  %-40s %11s\n", "domain", "layer", "n", "effect", "p(stereotype) at m = -2 -1 0 +1 +2",
                "p(unrelated)");
    for (const BiasDomain& d : run.domains) {
      std::printf("%-10s %5d %5zu %+8.3f  ", d.name.c_str(), d.best.layer, d.n_test, d.best.effect);
      std::string ps;
      double pu = 0;
      for (size_t i = 0; i < d.multipliers.size(); ++i) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3f ", d.p_stereotype[i].mean);
        ps += buf;
        if (d.multipliers[i] == 0) pu = d.p_unrelated[i].mean;
      }
      std::printf("%-40s %11.3f\n", ps.c_str(), pu);
    }
    for (const auto& [pair, c] : run.cosine_by_layer)
      std::printf("cosine %s at layer %d: %.3f\n", pair.c_str(), run.cosine_layer, c.at(size_t(run.cosine_layer)));
    for (const auto& [domain, c] : run.cross_model_cosine)
      std::printf("cosine of %s with %s's vector at layer %d: %.3f\n", domain.c_str(), run.compare_model.c_str(),
                  run.cosine_layer, c.at(size_t(run.cosine_layer)));
    std::printf("took %.0f s; wrote %s/ (summary.json, <domain>/vectors.*, *.csv, *.svg, report.html)\n",
                double(run.metadata["seconds"]), o->output.c_str());
    return 0;
  };
}

}  // namespace steer::cli
