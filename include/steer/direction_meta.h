// DirectionMeta ↔ JSON: the one serialized form of a direction set's metadata, stored whole
// in vector files (safetensors "steer" key, GGUF steer.meta) so a file read back gives the
// same metadata, field for field.
//
//   {"model": "SmolLM2 135M Instruct", "model_arch": "llama", "n_layers": 30, "d_model": 576,
//    "site": "hook_resid_pre", "method": "mean-diff", "kind": "addition",
//    "positions": [-1], "datasets": {"harmful": "<sha256>"}, "version": "0.1.0", "extra": {}}
//
// from_json throws steer::Error naming `source` and the field on a missing or mistyped value.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "steer/directions.h"

namespace steer {

nlohmann::json direction_meta_to_json(const DirectionMeta& meta);
DirectionMeta direction_meta_from_json(const nlohmann::json& j, const std::string& source);

// "addition" or "ablation"; anything else is a steer::Error naming `source`.
void check_direction_kind(const std::string& kind, const std::string& source);

}  // namespace steer
