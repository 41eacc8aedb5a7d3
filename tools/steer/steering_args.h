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

// One direction from FILE[@LAYER] (--direction of `steer abliterate`): the file's vector at LAYER,
// or its only vector when it holds one. steer::Error naming `option` and the layers it holds
// when the choice is ambiguous or the layer is absent.
struct PickedDirection {
  at::Tensor vector;  // [d_model] float32, as stored (not normalized)
  int layer = -1;     // the layer it was stored at
  std::string file;
};
PickedDirection pick_direction(const std::string& spec, const std::string& option);

// "8-12" → 8..12, "3,5" → {3, 5}, "0-2,7"; steer::Error naming `option` otherwise.
std::vector<int> parse_layer_list(const std::string& text, const std::string& option);

}  // namespace steer::cli
