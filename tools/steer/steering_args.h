// The steering options a generating verb shares (--add, --ablate, --clamp, --positions): CLI11
// wiring only. What the spec text means and how it becomes a Steering is the library's
// (steer/steering_spec.h: build_steering, pick_direction); what the interventions do is
// steer/interventions.h.
#pragma once
#include <CLI/CLI.hpp>

#include "steer/steering_spec.h"

namespace steer::cli {

using SteeringArgs = SteeringSpecs;

void add_steering_options(CLI::App& sub, SteeringArgs& args);

}  // namespace steer::cli
