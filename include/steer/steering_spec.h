// Steering specs: interventions on vector files written as text, the form `steer generate
// --add/--ablate/--clamp` (and the HTTP server) take, and a Steering built from them.
//
//   add     VEC[@LAYERS][:COEF]   add COEF·v (default 1) at the file's site, at LAYERS (default:
//                                 the file's layers; a file with one vector serves any layer)
//   ablate  DIR[@LAYERS]          ablate the direction (@LAYERS picks which of the file's
//                                 vectors, needed when it holds several)
//   clamp   DIR@LAYER:VALUE       set the projection on the direction to VALUE at one layer
//
//   steer::SteeringSpecs specs;
//   specs.add = {"sycophancy.gguf@12:4"};
//   specs.positions = "generated";
//   steer::Steering s = steer::build_steering(specs, /*chat_prompts=*/true);
//
// LAYERS is a layer list (steer/sites.h parse_layer_list: "10", "8-12", "3,5"). '@' separates
// the layers only when a layer list follows it, so a path may itself contain '@' or ':'.
//
// Failure: steer::Error naming the option (e.g. "--add 'v.gguf@x'") and the form expected, or
// the file and the layers it holds.
#pragma once
#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "steer/interventions.h"

namespace steer {

struct DirectionMeta;
struct ModelConfig;

struct SteeringSpec {
  Intervention::Kind kind = Intervention::Kind::kAdd;
  std::string file;             // the vector file (.safetensors or control-vector .gguf)
  std::vector<int> layers;      // empty: not given
  std::string layers_text;      // the layer list as written ("8-12"), "" when not given
  std::optional<float> number;  // Add: the coefficient (unset: 1); Clamp: the value; Ablate: unset
};

// Parses one spec of `kind`; `option` names it in errors (default "--add", "--ablate", "--clamp").
// Checks the form only (a clamp names one layer and a value, an ablation has no number); the
// file is not read.
SteeringSpec parse_steering_spec(Intervention::Kind kind, const std::string& text, const std::string& option = "");

// The specs of one request, as text.
struct SteeringSpecs {
  std::vector<std::string> add;     // VEC[@LAYERS][:COEF]
  std::vector<std::string> ablate;  // DIR[@LAYERS]
  std::vector<std::string> clamp;   // DIR@LAYER:VALUE
  std::string positions;            // PositionSelector::parse; empty: after-instruction for chat prompts, all for raw
  bool empty() const { return add.empty() && ablate.empty() && clamp.empty(); }
};

// Reads the vector files and builds the interventions: one ablation of the subspace spanned by
// every ablate direction (at every layer), then each add, then each clamp (the latter two at
// `positions`). Vectors are checked against a model only when the Steering is attached.
Steering build_steering(const SteeringSpecs& specs, bool chat_prompts);

// Checks the specs' files against the model they will steer, before any work: each file's
// d_model, layer count and layers (DirectionSet::check_compatible), and every layer named with
// @ within the model's layers (an --ablate FILE@L picks a vector, so an L the model lacks is an
// error even when the file has one vector). steer::Error naming the option. Returns warnings
// for what the user may mean: a file made for another architecture or model (its metadata's
// model / model_arch, a control vector's model_hint).
std::vector<std::string> check_steering_fits(const SteeringSpecs& specs, const ModelConfig& config);

// "" when vectors with `meta` were made for `config`'s model (or do not say), else a note for a
// warning: "made for qwen2, this model is tiny (llama)". The exact model_arch when the file has
// it; a bare model name (a control vector's model_hint, e.g. repeng's model_type) is compared
// with the model's name and its architecture.
std::string other_model_note(const DirectionMeta& meta, const ModelConfig& config);

// One direction from FILE[@LAYER] (e.g. `steer abliterate --direction`): the file's vector at
// LAYER, or its only vector when it holds one. steer::Error naming `option` and the layers the
// file holds when the choice is ambiguous or the layer is absent.
struct PickedDirection {
  at::Tensor vector;  // [d_model] float32, as stored (not normalized)
  int layer = -1;     // the layer it was stored at
  std::string file;
};
PickedDirection pick_direction(const std::string& spec, const std::string& option);

}  // namespace steer
