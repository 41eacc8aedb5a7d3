// steer vectors: inspect direction-set files. `steer vectors info FILE` prints what a vector
// file holds — format, kind, site, layers with their norms, and its metadata.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "steer/json_text.h"
#include "steer/error.h"
#include "steer/directions.h"
#include "steer/direction_meta.h"

namespace steer::cli {

std::function<int()> setup_vectors(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string file;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  sub.require_subcommand(1, 1);
  CLI::App* info = sub.add_subcommand("info", "Show a vector file's kind, site, layers, norms and metadata");
  info->add_option("file", o->file, "Vector file: .safetensors or .gguf")->required();
  info->add_flag("--json", o->json, "Print JSON");

  return [o, info]() {
    if (!info->parsed()) fail("steer vectors: no action given", "use `steer vectors info FILE`");
    DirectionSet set = load_directions(o->file);
    const DirectionMeta& m = set.meta();
    std::string lower = o->file;
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    const bool gguf = lower.size() >= 5 && lower.substr(lower.size() - 5) == ".gguf";
    nlohmann::json norms = nlohmann::json::object();
    for (int l : set.layers()) norms[std::to_string(l)] = set.at_layer(l).norm().item<double>();
    if (o->json) {
      nlohmann::json j = {{"file", o->file},
                          {"format", gguf ? "gguf (llama.cpp control vector)" : "safetensors"},
                          {"layers", set.layers()},
                          {"norms", norms},
                          {"meta", direction_meta_to_json(m)}};
      std::cout << json_text(j, 2) << "\n";
      return 0;
    }
    std::cout << "file       " << o->file << "\n"
              << "format     " << (gguf ? "gguf (llama.cpp control vector)" : "safetensors") << "\n"
              << "kind       " << m.kind << (m.kind == "ablation" ? "  (a direction to project out, never added)" : "")
              << "\n"
              << "site       " << site_kind_name(m.site) << "\n"
              << "method     " << (m.method.empty() ? "?" : m.method) << "\n"
              << "model      " << (m.model.empty() ? "?" : m.model)
              << (m.model_arch.empty() ? "" : " (" + m.model_arch + ")") << "\n"
              << "d_model    " << m.d_model << (m.n_layers ? ", model layers " + std::to_string(m.n_layers) : "") << "\n";
    std::cout << "positions  ";
    if (m.positions.empty()) std::cout << (m.extra.contains("positions") ? m.extra["positions"].get<std::string>() : "-");
    for (size_t i = 0; i < m.positions.size(); ++i) std::cout << (i ? "," : "") << m.positions[i];
    std::cout << "\n";
    for (const auto& [name, sha] : m.datasets) std::cout << "dataset    " << name << " sha256 " << sha << "\n";
    if (!m.version.empty()) std::cout << "version    steer " << m.version << "\n";
    if (!m.extra.empty()) std::cout << "extra      " << json_text(m.extra) << "\n";
    std::cout << "layer  norm\n";
    for (int l : set.layers()) std::printf("%5d  %.4g\n", l, norms[std::to_string(l)].get<double>());
    return 0;
  };
}

}  // namespace steer::cli
