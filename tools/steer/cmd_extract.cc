// steer extract: steering vectors from contrasting prompt sets — difference in means, CAA on
// A/B questions, or PCA of paired differences — saved as .safetensors or a llama.cpp control
// vector (.gguf). With no prompt files it uses the project's built-in sets.
#include <cstdio>
#include <iostream>

#include "cli.h"
#include "steer/error.h"
#include "prompt_args.h"
#include "steer/extract.h"
#include "steer/outputs.h"

namespace steer::cli {

// A llama.cpp control vector holds direction.N (N ≥ 1) added to the output of block N: fail
// before the forward passes, not after, when the output cannot hold what was asked for.
static void check_gguf_expressible(const std::string& output, SiteKind site, const std::vector<int>& layers) {
  std::string ext = output.size() >= 5 ? output.substr(output.size() - 5) : "";
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (ext != ".gguf") return;
  if (site != SiteKind::kResidPost && site != SiteKind::kResidPre)
    fail("-o " + output + ": a llama.cpp control vector cannot hold vectors at " + site_kind_name(site),
         "use --site resid_post or resid_pre, or write .safetensors");
  const int first = site == SiteKind::kResidPost ? 1 : 2;
  if (layers.front() < first)
    fail("-o " + output + ": layer " + std::to_string(layers.front()) + " of " + site_kind_name(site) +
             " cannot be written to a llama.cpp control vector (direction.0 does not exist there)",
         "choose layers from " + std::to_string(first) + " on, e.g. --layers " + std::to_string(first) + "-" +
             std::to_string(std::max(first, layers.back())) + ", or write .safetensors");
}

std::function<int()> setup_extract(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string model, positive, negative, method = "mean-diff", site, layers = "all", positions, normalize = "none",
                                           output, system, chat_template, behaviour = "sycophancy";
    bool raw = false;
    int batch_size = 16;
    PromptFileOptions files;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "Model: .gguf, HF directory or default model name")->required();
  sub.add_option("--method", o->method, "mean-diff, caa or pca")->capture_default_str();
  sub.add_option("--positive", o->positive,
                 "Prompts showing the behaviour (default builtin:harmful); for caa a CAA A/B JSON file "
                 "(default: the built-in set of --behaviour)");
  sub.add_option("--negative", o->negative, "Contrasting prompts (default builtin:harmless; not used by caa)");
  sub.add_option("--behaviour", o->behaviour, "caa without --positive: built-in A/B set (sycophancy, refusal)")
      ->capture_default_str();
  o->files.add_to(sub);
  sub.add_option("--site", o->site, "Hook site (default: resid_pre; caa: resid_post)");
  sub.add_option("--layers", o->layers, "Layers: all, 0-29, 3,5,7")->capture_default_str();
  sub.add_option("--positions", o->positions,
                 "Positions read (default -1; caa: -2, the answer letter), as `steer generate --positions` names "
                 "them; several are averaged; or prompt / after-instruction (also spelled prompt-mean, "
                 "after-instruction-mean)");
  sub.add_option("--normalize", o->normalize, "none or unit (each layer's vector to norm 1)")->capture_default_str();
  sub.add_option("--batch-size", o->batch_size, "Prompts per forward pass")->capture_default_str();
  sub.add_option("--system", o->system, "System message for the chat template");
  sub.add_option("--chat-template", o->chat_template, "A chat template file overriding the model's");
  sub.add_flag("--raw", o->raw, "Encode prompts as plain text (no chat template; not for caa)");
  sub.add_option("-o,--output", o->output, "Output: .safetensors, or .gguf (llama.cpp control vector)")->required();

  return [o, &global]() {
    check_output_file("-o", o->output, {o->model, o->positive, o->negative});  // before the work; never over an input
    if (!ends_with_ci(o->output, ".safetensors") && !ends_with_ci(o->output, ".gguf"))
      fail("-o " + o->output + ": unknown extension", "use .safetensors (steer's own format) or .gguf (llama.cpp control vector)");
    if (o->method != "mean-diff" && o->method != "caa" && o->method != "pca")
      fail("--method: unknown method '" + o->method + "'", "use mean-diff, caa or pca");
    const bool caa = o->method == "caa";
    ExtractOptions opt = caa ? caa_options() : ExtractOptions{};
    if (!o->site.empty()) opt.site = parse_site_kind(o->site);
    if (!o->positions.empty()) opt.positions = CapturePositions::parse(o->positions);
    opt.normalize = parse_normalize(o->normalize);
    opt.raw = o->raw;
    opt.system = o->system;
    opt.batch_size = o->batch_size;
    opt.progress = !global.quiet;
    if (caa && o->raw) fail("--raw cannot be used with --method caa", "CAA puts the answer in the assistant turn");
    if (caa && !o->negative.empty())
      fail("--negative is not used by --method caa", "the A/B file holds both answers of every question");

    // Load the data before the model: a bad file fails fast.
    ABSet ab;
    PromptSet pos, neg;
    if (caa) {
      ab = o->positive.empty() ? default_ab(o->behaviour) : load_ab_set(o->positive);
      if (o->files.limit > 0 && ab.items.size() > o->files.limit) ab.items.resize(o->files.limit);
    } else {
      pos = o->files.load(o->positive.empty() ? "builtin:harmful" : o->positive, "--positive");
      neg = o->files.load(o->negative.empty() ? "builtin:harmless" : o->negative, "--negative");
      if (o->method == "pca" && pos.size() != neg.size()) {
        if (!o->positive.empty() || !o->negative.empty())
          fail("--method pca pairs positive[i] with negative[i], but there are " + std::to_string(pos.size()) +
                   " positive and " + std::to_string(neg.size()) + " negative prompts",
               "give files of equal length, or --limit N");
        size_t n = std::min(pos.size(), neg.size());  // the built-in sets differ by a prompt or so
        pos.items.resize(n);
        neg.items.resize(n);
      }
    }

    auto model = load_model(o->model, global, o->chat_template);
    opt.layers = parse_layer_list(o->layers, model->config().n_layers);
    check_gguf_expressible(o->output, opt.site, opt.layers);
    DirectionSet set = caa ? extract_caa(*model, ab, opt)
                           : o->method == "pca" ? extract_pca(*model, pos, neg, opt)
                                                : extract_mean_diff(*model, pos, neg, opt);
    save_directions(set, o->output);

    const DirectionMeta& m = set.meta();
    std::cout << m.method << " vectors at " << site_kind_name(m.site) << ", positions " << opt.positions.to_string()
              << ", " << set.layers().size() << " layer(s), d_model " << m.d_model << ", normalize "
              << normalize_name(opt.normalize) << "\n";
    if (caa) std::cout << "A/B set " << ab.path << " (" << ab.size() << " pairs)\n";
    else std::cout << "positive " << pos.path << " (" << pos.size() << "), negative " << neg.path << " (" << neg.size() << ")\n";
    std::cout << "layer  norm\n";
    for (int l : set.layers()) std::printf("%5d  %.4g\n", l, set.at_layer(l).norm().item<double>());
    std::cout << "wrote " << o->output << "\n";
    return 0;
  };
}

}  // namespace steer::cli
