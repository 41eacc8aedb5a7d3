// Shared pieces of the `steer` CLI. main.cc holds the dispatch table; each verb lives in its
// own cmd_<verb>.cc and only parses options and calls the library.
#pragma once
#include <CLI/CLI.hpp>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "steer/model.h"

namespace steer::cli {

struct GlobalOptions {
  std::string dtype = "auto";  // auto: bf16 where the CPU has AVX512-BF16/AMX, else f32
  int threads = 0;             // 0: all cores
  bool quiet = false;          // no progress bars
};

// A verb registers its options on `sub` and returns the function that runs it.
using VerbSetup = std::function<std::function<int()>(CLI::App& sub, const GlobalOptions& global)>;

struct Verb {
  const char* name;
  const char* summary;
  const char* example;  // runnable on the default model; shown by `steer help VERB`
  VerbSetup setup;
};

// A CLI11 check for a finite number in [lo, hi]. CLI::Range and CLI::NonNegativeNumber let NaN
// through (every comparison with NaN is false), and NaN as a threshold or a timeout silently
// turns a filter or a limit off, so this parses the text itself.
inline CLI::Validator finite_in(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !std::isfinite(v))
          return "must be a finite number, got '" + text + "'";
        if (v < lo || v > hi) {
          std::ostringstream range;
          range << "must be in [" << lo << ", " << hi << "], got " << text;
          return range.str();
        }
        return "";
      },
      "FINITE");
}

// True when `s` ends in `suffix`, ignoring ASCII case (".GGUF" is ".gguf").
inline bool ends_with_ci(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i]) return false;
  return true;
}

std::shared_ptr<Model> load_model(const std::string& name_or_path, const GlobalOptions& global,
                                  const std::string& chat_template_file = "");

// The verbs (one cmd_<verb>.cc each).
std::function<int()> setup_inspect(CLI::App& sub, const GlobalOptions& global);
std::function<int()> setup_tokenize(CLI::App& sub, const GlobalOptions& global);
std::function<int()> setup_generate(CLI::App& sub, const GlobalOptions& global);
std::function<int()> setup_demo(CLI::App& sub, const GlobalOptions& global);
std::function<int()> setup_capture(CLI::App& sub, const GlobalOptions& global);
std::function<int()> setup_extract(CLI::App& sub, const GlobalOptions& global);
std::function<int()> setup_convert(CLI::App& sub, const GlobalOptions& global);
std::function<int()> setup_vectors(CLI::App& sub, const GlobalOptions& global);
std::function<int()> setup_refusal(CLI::App& sub, const GlobalOptions& global);
std::function<int()> setup_eval_refusal(CLI::App& sub, const GlobalOptions& global);
std::function<int()> setup_abliterate(CLI::App& sub, const GlobalOptions& global);
std::function<int()> setup_serve(CLI::App& sub, const GlobalOptions& global);
std::function<int()> setup_caa(CLI::App& sub, const GlobalOptions& global);
std::function<int()> setup_bias(CLI::App& sub, const GlobalOptions& global);
std::function<int()> setup_jailbreak(CLI::App& sub, const GlobalOptions& global);
std::function<int()> setup_suffix(CLI::App& sub, const GlobalOptions& global);

}  // namespace steer::cli
