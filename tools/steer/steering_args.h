// The steering options a generating verb shares (--add, --ablate, --clamp, --positions) and how
// they become a steer::Steering. Only parsing lives here; what the interventions do is
// include/steer/interventions.h.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "steer/interventions.h"
#include "steer/model.h"

namespace steer::cli {

struct SteeringArgs {
  std::vector<std::string> add;     // VEC[@LAYERS][:COEF]
  std::vector<std::string> ablate;  // DIR[@LAYERS]
  std::vector<std::string> clamp;   // DIR@LAYER:VALUE
  std::string positions;            // empty: after-instruction for chat prompts, all for raw text
};

void add_steering_options(CLI::App& sub, SteeringArgs& args);

// Loads the vector files and builds the interventions: one ablation of the subspace spanned by
// every --ablate direction (at every layer), then each --add, then each --clamp.
// steer::Error naming the option and the text on a malformed spec or an unreadable file.
Steering build_steering(const SteeringArgs& args, bool chat_prompts);

// "8-12" → 8..12, "3,5" → {3, 5}, "0-2,7"; steer::Error naming `option` otherwise.
std::vector<int> parse_layer_list(const std::string& text, const std::string& option);

}  // namespace steer::cli
