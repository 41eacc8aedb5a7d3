#include "steering_args.h"

namespace steer::cli {

void add_steering_options(CLI::App& sub, SteeringArgs& args) {
  sub.add_option("--add", args.add,
                 "Add COEF·v to the residual stream: VEC[@LAYERS][:COEF] (repeatable). VEC is a .safetensors or "
                 "llama.cpp control-vector .gguf file; LAYERS like 10, 8-12 or 3,5 (default: the file's layers; a "
                 "file with one vector can be used at any layer); COEF default 1. At the file's site "
                 "(control vectors: hook_resid_post).")
      ->group("Steering");
  sub.add_option("--ablate", args.ablate,
                 "Ablate a direction at hook_resid_pre, hook_attn_out and hook_mlp_out of every layer, all "
                 "positions: DIR[@LAYERS] (repeatable). @LAYERS picks which of the file's vectors is the direction "
                 "(needed when it holds several); several together are ablated as one subspace.")
      ->group("Steering");
  sub.add_option("--clamp", args.clamp,
                 "Set the projection on a direction to VALUE at one layer: DIR@LAYER:VALUE (repeatable; at the "
                 "file's site, on the --positions tokens).")
      ->group("Steering");
  sub.add_option("--positions", args.positions,
                 "Tokens --add and --clamp change: all, prompt, generated, after-instruction, or indices like "
                 "--positions=-3,-2,-1 or -3..-1 (negative = from the prompt's end). Default: after-instruction for chat "
                 "prompts (CAA), all with --raw.")
      ->group("Steering");
}

}  // namespace steer::cli
