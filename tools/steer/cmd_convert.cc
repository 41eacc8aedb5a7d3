// steer convert: a direction set from one vector format to the other (.safetensors ↔ .gguf
// llama.cpp control vector), optionally keeping only some layers.
#include <iostream>

#include "cli.h"
#include "steer/error.h"
#include "steer/capture.h"
#include "steer/directions.h"
#include "steer/outputs.h"

namespace steer::cli {

std::function<int()> setup_convert(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string input, output, layers;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("input", o->input, "Vector file: .safetensors or .gguf")->required();
  sub.add_option("output", o->output, "Output file: .safetensors or .gguf")->required();
  sub.add_option("--layers", o->layers, "Keep only these layers (e.g. 2-29, 3,5,7)");

  return [o]() {
    check_output_file("output", o->output, {o->input});  // not over its own input
    DirectionSet set = load_directions(o->input);
    if (!o->layers.empty()) {
      std::vector<int> keep;
      int n = set.meta().n_layers > 0 ? set.meta().n_layers : set.layers().back() + 1;
      if (o->layers == "all") keep = set.layers();
      else keep = parse_layer_list(o->layers, n);
      set = set.only_layers(keep);
    }
    save_directions(set, o->output);
    std::cout << "wrote " << set.layers().size() << " " << site_kind_name(set.meta().site) << " vector(s) ("
              << set.meta().kind << ", d_model " << set.meta().d_model << ") to " << o->output << "\n";
    return 0;
  };
}

}  // namespace steer::cli
