// What a model load reads from GGUF metadata before any tensor: the model config (every field
// validated) and the tokenizer (vocabulary, merges, scores, token types, special ids), then a
// short encode/decode with it.
#include "fuzz_target.h"
#include "steer/config.h"
#include "steer/error.h"
#include "steer/gguf.h"
#include "steer/tokenizer.h"

STEER_FUZZ_TARGET(gguf_model) {
  auto file = steer::GGUFFile::open(steer::fuzz::write_input(data, size, "model.gguf"));
  try {
    (void)steer::config_from_gguf(*file);
  } catch (const steer::Error&) {
  }
  steer::Tokenizer tok = steer::Tokenizer::from_gguf(*file);
  std::vector<int32_t> ids = tok.encode("Hello world! <|im_start|> 12345 \xc3\xa9", true);
  (void)tok.decode(ids, false);
}
