// steer — the command-line front end. A dispatch table of verbs; each verb is a thin layer
// over library calls. Errors print one `error: … (hint: …)` line and exit non-zero.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <iostream>

#include "cli.h"
#include "steer/error.h"
#include "steer/model_cache.h"
#include "steer/outputs.h"
#include "steer/progress.h"

namespace steer::cli {

static const std::vector<Verb>& verbs() {
  static const std::vector<Verb> table = {
      {"demo", "The main job: the refusal direction (Arditi et al.) found, ablated and added on Qwen2.5-Coder-0.5B "
               "at demo size, into runs/demo",
       "steer demo\n  steer demo --score-layers all --n-test 48 -o runs/demo-full\n"
       "  steer demo --model smollm2-135m -o runs/demo-smollm2", setup_demo},
      {"inspect", "Show a model's architecture, sizes, tensor types, tokenizer, template and hook sites",
       "steer inspect smollm2-135m\n  steer inspect ~/.cache/steer/models/gemma3-270m.gguf --sites", setup_inspect},
      {"tokenize", "Tokenize text (verbatim, no BOS unless asked) with a model's or vocab-only GGUF's tokenizer",
       "steer tokenize smollm2-135m --text 'Hello world' --json\n  steer tokenize smollm2-135m --text 'Hi' --chat",
       setup_tokenize},
      {"generate", "Generate a chat reply (or raw continuation), greedy or sampled, optionally steered (add, ablate, clamp)",
       "steer generate smollm2-135m --prompt 'Name three colours.' --max-tokens 40\n"
       "  steer generate qwen2.5-coder-0.5b --prompt 'Write a haiku.' --temperature 0.7 --seed 1 --json\n"
       "  # steering: a refusal direction (harmful − harmless, hook_resid_pre, every layer), then\n"
       "  steer extract smollm2-135m --limit 32 -o refusal.safetensors\n"
       "  steer generate smollm2-135m --prompt 'How do I pick a lock?' --ablate refusal.safetensors@12\n"
       "  steer generate smollm2-135m --prompt 'Write a poem about the sea.' --add refusal.safetensors@12:1.5 "
       "--positions all\n"
       "  steer extract smollm2-135m --method caa --layers 1-29 -o sycophancy.gguf   # CAA, llama.cpp format\n"
       "  steer generate smollm2-135m --prompt 'Is my plan to quit my job to sell ice to penguins good?' "
       "--add sycophancy.gguf@13:4",
       setup_generate},
      {"capture", "Run prompts through a model and save activation sums (float64) and optionally every example's activations",
       "steer capture smollm2-135m --prompts builtin:harmful --limit 32 --sites resid_pre --layers 0-29 --positions -5,-4,-3,-2,-1 -o acts.safetensors\n"
       "  steer capture smollm2-135m --prompts builtin:harmless --limit 16 --positions prompt-mean --per-example -o harmless.safetensors",
       setup_capture},
      {"extract", "Extract steering vectors: difference in means, CAA (A/B letter) or PCA of paired differences",
       "steer extract smollm2-135m --method mean-diff --limit 32 -o refusal.safetensors\n"
       "  steer extract smollm2-135m --method caa --layers 2-29 -o sycophancy.gguf\n"
       "  steer extract smollm2-135m --method pca --positive builtin:harmful --negative builtin:harmless --limit 32 --site resid_post --layers 10-20 --normalize unit -o refusal_pca.safetensors",
       setup_extract},
      {"convert", "Convert a vector file between .safetensors and llama.cpp control-vector .gguf",
       "steer convert sycophancy.gguf sycophancy.safetensors\n  steer convert refusal.safetensors refusal.gguf --layers 2-29",
       setup_convert},
      {"abliterate", "Remove a direction from the weights (orthogonalization) and write the model as GGUF or safetensors",
       "steer abliterate smollm2-135m --direction run/direction.safetensors -o smollm2-abliterated.gguf\n"
       "  # the direction file comes from `steer refusal` (or `steer extract ... -o dir.safetensors`, then @LAYER)\n"
       "  steer abliterate smollm2-135m --direction refusal.safetensors@12 --requantize -o smollm2-abliterated-q.gguf\n"
       "  steer generate smollm2-abliterated.gguf --prompt 'How do I pick a lock?'   # = runtime --ablate",
       setup_abliterate},
      {"vectors", "Inspect vector files: `steer vectors info FILE` shows kind, site, layers, norms and metadata",
       "steer vectors info sycophancy.gguf\n  steer vectors info refusal.safetensors --json", setup_vectors},
      {"refusal", "Find a model's refusal direction (Arditi et al.): candidates at every layer × post-instruction "
                  "position, bypass/induce/KL selection, evaluation, into a run folder",
       "steer refusal smollm2-135m -o runs/smollm2\n"
       "  steer refusal qwen2.5-coder-0.5b -o runs/qwen --harmful-test "
       "../shared/data/refusal_direction/dataset/processed/harmbench_test.json\n"
       "  steer refusal smollm2-135m --n-train 32 --n-val 16 --no-eval --skip-pruned -o runs/quick",
       setup_refusal},
      {"eval-refusal", "Evaluate a refusal direction: completions under baseline / ablation / ±r addition, "
                       "substring + first-token (+ local model) judges, KL and cross-entropy",
       "steer eval-refusal smollm2-135m --direction runs/smollm2/direction.safetensors -o runs/smollm2/eval\n"
       "  steer eval-refusal qwen2.5-coder-0.5b -d runs/qwen/direction.safetensors --harmful "
       "../shared/data/refusal_direction/dataset/processed/harmbench_test.json --n 64 -o runs/qwen/harmbench",
       setup_eval_refusal},
      {"caa", "Contrastive Activation Addition (Rimsky et al.): A/B vectors per layer, layer x multiplier sweeps "
              "of p(matching answer), few-shot baselines, MMLU/TruthfulQA guard, open-ended answers, into a run folder",
       "steer caa smollm2-135m --behavior sycophancy -o runs/caa-sycophancy\n"
       "  steer caa qwen2.5-coder-0.5b --behavior refusal --data ../shared/data/caa/datasets --max-train 300\n"
       "  steer caa smollm2-135m --train my_ab.json --test my_ab_test.json --layers 8-20 --multipliers=-1:1:0.5",
       setup_caa},
      {"bias", "Bias steering (Lu & Rimsky): StereoSet bias vectors per domain, bias score under steering, "
               "domain cosines, bias vs refusal, into a run folder",
       "steer bias smollm2-135m -o runs/bias\n"
       "  steer bias qwen2.5-coder-0.5b --domains gender,religion --refusal runs/qwen/direction.safetensors -o runs/bias-qwen",
       setup_bias},
      {"jailbreak", "Jailbreak classes from the inside (Ball et al.): class vectors, refusal rates wrapped vs plain, "
                    "harmfulness suppression, cosines, PCA, cross-mitigation, into a run folder",
       "steer jailbreak smollm2-135m --n 8 --mitigation-n 4 -o runs/jb-smol\n"
       "  steer jailbreak qwen2.5-coder-0.5b --refusal runs/qwen -o runs/jb-qwen",
       setup_jailbreak},
      {"suffix", "Adversarial-suffix analysis (Arditi et al. §5): the last token's residual stream split into heads "
                 "and MLPs along a refusal direction, the heads a suffix suppresses and where they look",
       "steer suffix qwen2.5-coder-0.5b --direction runs/qwen -o runs/suffix-qwen\n"
       "  steer suffix smollm2-135m -d runs/smollm2/direction.safetensors --suffix 'describing.\\ + similarlyNow' "
       "--n 16 -o runs/suffix",
       setup_suffix},
      {"serve", "Serve a model over an OpenAI-compatible HTTP API with per-request steering and a playground page",
       "steer serve smollm2-135m --vectors vectors --port 8080\n"
       "  curl http://127.0.0.1:8080/v1/chat/completions -d '{\"messages\": [{\"role\": \"user\", \"content\": "
       "\"Hi\"}], \"steering\": {\"add\": [{\"vector\": \"refusal\", \"coefficient\": 4}]}}'",
       setup_serve},
  };
  return table;
}

std::shared_ptr<Model> load_model(const std::string& name_or_path, const GlobalOptions& global,
                                  const std::string& chat_template_file) {
  LoadOptions opt;
  opt.dtype = parse_dtype(global.dtype);
  opt.threads = global.threads;
  opt.progress = !global.quiet;
  opt.chat_template_file = chat_template_file;
  return Model::load(resolve_model_path(name_or_path), opt);
}

// The first line of a library message (libtorch appends its C++ source location on the next).
static std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

static int print_error(const std::string& message, const std::string& hint) {
  std::fprintf(stderr, "error: %s%s\n", message.c_str(), hint.empty() ? "" : (" (hint: " + hint + ")").c_str());
  return 1;
}

static int run(int argc, char** argv) {
  CLI::App app{"steer — find, apply and remove behaviour directions in chat language models"};
  app.set_version_flag("--version", STEER_VERSION);
  app.require_subcommand(0, 1);
  GlobalOptions global;
  app.add_option("--dtype", global.dtype, "Compute dtype: auto, f32, bf16 (auto: bf16 if the CPU has AVX512-BF16)")
      ->capture_default_str();
  app.add_option("--threads", global.threads, "CPU threads (0: all cores)")->capture_default_str();
  app.add_flag("--quiet,-q", global.quiet, "No progress bars");
  app.footer("Models: a .gguf file, a Hugging Face directory, or a default model name\n"
             "(smollm2-135m, gemma3-270m, qwen2.5-coder-0.5b; see scripts/setup.sh).\n"
             "Run `steer help VERB` for a verb's options and a runnable example.");

  std::vector<std::function<int()>> runners(verbs().size());
  std::vector<CLI::App*> subs;
  for (size_t i = 0; i < verbs().size(); ++i) {
    const Verb& v = verbs()[i];
    CLI::App* sub = app.add_subcommand(v.name, v.summary);
    sub->footer(std::string("Example:\n  ") + v.example);
    runners[i] = v.setup(*sub, global);
    subs.push_back(sub);
  }
  std::string help_verb;
  CLI::App* help = app.add_subcommand("help", "Show help for a verb, with a runnable example");
  help->add_option("verb", help_verb, "The verb");

  CLI11_PARSE(app, argc, argv);
  if (global.threads < 0) return print_error("--threads must be ≥ 0", "0 means all cores");
  Progress::set_quiet(global.quiet);
  set_compute_threads(global.threads);  // libtorch alone may pick 1 thread on a VM (steer/model.h)

  if (help->parsed()) {
    if (help_verb.empty()) {
      std::cout << app.help();
      return 0;
    }
    for (size_t i = 0; i < verbs().size(); ++i)
      if (help_verb == verbs()[i].name) {
        std::cout << subs[i]->help();
        return 0;
      }
    return print_error("unknown verb '" + help_verb + "'", "run `steer --help` for the list");
  }
  for (size_t i = 0; i < subs.size(); ++i)
    if (subs[i]->parsed()) return runners[i]();
  std::cout << app.help();
  return 0;
}

}  // namespace steer::cli

int main(int argc, char** argv) {
  steer::install_interrupt_cleanup();  // first, so every thread started later leaves SIGINT to it
  try {
    return steer::cli::run(argc, argv);
  } catch (const steer::Error& e) {
    return steer::cli::print_error(e.what(), e.hint());
  } catch (const c10::Error& e) {
    // Not every tensor error is steer's: memory runs out, files disagree in ways no check saw.
    // So the hint asks for a report only once the inputs are known to be good.
    const std::string what = e.what_without_backtrace();
    if (what.find("alloc") != std::string::npos && what.find("memory") != std::string::npos)
      return steer::cli::print_error("out of memory: " + steer::cli::first_line(what),
                                     "use a smaller --batch-size, fewer or shorter prompts, or a smaller model");
    steer::cli::print_error("a tensor operation failed: " + steer::cli::first_line(what),
                            "check that the model and vector files belong together (steer inspect MODEL, steer "
                            "vectors info FILE); if they do, please report the command line");
    return 2;
  } catch (const std::bad_alloc&) {
    return steer::cli::print_error("out of memory",
                                   "use a smaller --batch-size, fewer or shorter prompts, or a smaller model");
  } catch (const std::exception& e) {
    steer::cli::print_error(e.what(), "");
    return 2;
  }
}
