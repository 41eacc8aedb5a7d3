// Helpers shared by the GGUF and Hugging Face vocabulary readers.
#pragma once
#include "steer/vocab.h"

namespace steer {

// Sets spec.eot_id from the token texts when no file gave one: the first present of
// <|eot_id|>, <|im_end|>, <end_of_turn>, <|end|>, <|endoftext|>, <EOT> (llama.cpp searches the
// same texts, in hash order; a fixed order makes the choice reproducible).
void detect_eot(VocabSpec& spec);

}  // namespace steer
