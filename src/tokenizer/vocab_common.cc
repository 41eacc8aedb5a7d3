// Helpers shared by the vocabulary readers (see vocab_common.h).
#include "tokenizer/vocab_common.h"

namespace steer {

void detect_eot(VocabSpec& spec) {
  if (spec.eot_id >= 0) return;
  for (const char* text : {"<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>", "<|endoftext|>", "<EOT>"}) {
    for (size_t i = 0; i < spec.tokens.size(); ++i) {
      if (spec.tokens[i] == text) {
        spec.eot_id = static_cast<int32_t>(i);
        return;
      }
    }
  }
}

}  // namespace steer
