// steer abliterate: remove a direction from a model's weights (weight orthogonalization) and
// write the result as a GGUF file (from a GGUF model) or a safetensors directory (from a Hugging
// Face directory). The work is steer::abliterate_gguf / abliterate_hf_dir (steer/orthogonalize.h).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli.h"
#include "steer/error.h"
#include "steer/model_cache.h"
#include "steer/orthogonalize.h"
#include "steering_args.h"
#include "steer/outputs.h"

namespace steer::cli {

std::function<int()> setup_abliterate(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string model, direction, output, type = "f32";
    bool requantize = false;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "Model: .gguf, HF directory or default model name")->required();
  sub.add_option("--direction,-d", o->direction,
                 "Direction file (.safetensors or control-vector .gguf, e.g. from `steer refusal` or `steer "
                 "extract`): FILE, or FILE@LAYER when it holds several layers' vectors")
      ->required();
  sub.add_option("--output,-o", o->output,
                 "Output: OUT.gguf for a GGUF model, OUT_DIR/ (model.safetensors + config and tokenizer "
                 "files) for a Hugging Face directory")
      ->required();
  sub.add_option("--type", o->type, "Type of the modified tensors: f32, f16, bf16")->capture_default_str();
  sub.add_flag("--requantize", o->requantize,
               "GGUF: write each modified tensor in its source type (Q4_1, Q8_0, ...); a type steer cannot "
               "quantize (Q2_K, Q3_K) falls back to F16 with a warning");

  return [o, &global]() {
    namespace fs = std::filesystem;
    PickedDirection dir = pick_direction(o->direction, "--direction");  // before the model: fail fast
    const std::string path = resolve_model_path(o->model);
    AbliterateOptions opt;
    opt.type = parse_abliterate_type(o->type);
    opt.requantize = o->requantize;
    opt.layer = dir.layer;
    opt.direction_source = fs::path(dir.file).filename().string();
    opt.progress = !global.quiet;
    const bool hf_input = fs::is_directory(path);
    const bool gguf_output = fs::path(o->output).extension() == ".gguf";
    if (hf_input && gguf_output)
      fail("--output " + o->output + ": a Hugging Face directory is written as safetensors",
           "give an output directory, e.g. -o abliterated/");
    if (!hf_input && !gguf_output)
      fail("--output " + o->output + ": a GGUF model is written as a .gguf file",
           "give a file name ending in .gguf, e.g. -o model-abliterated.gguf");
    if (hf_input) check_output_folder("--output", o->output, {path});
    else check_output_file("--output", o->output, {path});  // a model is never written over its own input
    auto start = std::chrono::steady_clock::now();
    AbliterateReport r = hf_input ? abliterate_hf_dir(path, dir.vector, o->output, opt)
                                  : abliterate_gguf(path, dir.vector, o->output, opt);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const std::string& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    int orthogonalized = 0;
    for (const auto& t : r.tensors) orthogonalized += t.action == "orthogonalized";
    std::printf("wrote %s (%.1f MB, %.1f s): %d tensors orthogonalized%s, direction %s (layer %d, sha256 %.12s)\n",
                o->output.c_str(), r.bytes_written / 1e6, seconds, orthogonalized,
                r.untied ? ", tied LM head untied" : "", dir.file.c_str(), dir.layer, r.direction_sha256.c_str());
    return 0;
  };
}

}  // namespace steer::cli
