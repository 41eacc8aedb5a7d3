// VocabSpec from GGUF metadata (tokenizer.ggml.*), with llama.cpp's defaults (see vocab.h).
#include <cstdint>

#include "steer/error.h"
#include "steer/gguf.h"
#include "steer/vocab.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab_common.h"

namespace steer {

namespace {

// A token id key: absent → fallback; present but not a valid int32 id (llama.cpp writes
// 0xFFFFFFFF for "none") → -1.
int32_t read_id(const GGUFFile& f, const std::string& key, int32_t fallback) {
  if (!f.has(key)) return fallback;
  const int64_t v = f.get_int(key);
  if (v < 0 || v > INT32_MAX) return -1;
  return static_cast<int32_t>(v);
}

}  // namespace

VocabSpec vocab_from_gguf(const GGUFFile& f) {
  VocabSpec spec;
  spec.source = f.path();
  if (!f.has("tokenizer.ggml.model")) {
    fail(f.path() + ": no tokenizer (metadata key tokenizer.ggml.model is missing)",
         "this GGUF file carries no vocabulary; load the tokenizer from the model's original file");
  }
  spec.model = f.get_string("tokenizer.ggml.model");
  if (spec.model != "gpt2" && spec.model != "llama") {
    fail(f.path() + ": tokenizer.ggml.model = '" + spec.model + "' is not supported",
         "supported: gpt2 (byte-level BPE) and llama (SentencePiece); WordPiece (bert), Unigram "
         "(t5) and others are not");
  }
  spec.tokens = f.get_strings("tokenizer.ggml.tokens");
  const int64_t n = static_cast<int64_t>(spec.tokens.size());
  if (f.has("tokenizer.ggml.scores")) spec.scores = f.get_floats("tokenizer.ggml.scores");
  if (f.has("tokenizer.ggml.token_type")) {
    const std::vector<int64_t> types = f.get_ints("tokenizer.ggml.token_type");
    spec.token_types.assign(types.begin(), types.end());
  }
  if (!spec.scores.empty() && static_cast<int64_t>(spec.scores.size()) != n) {
    fail(f.path() + ": tokenizer.ggml.scores has " + std::to_string(spec.scores.size()) +
         " entries for " + std::to_string(n) + " tokens");
  }
  if (!spec.token_types.empty() && static_cast<int64_t>(spec.token_types.size()) != n) {
    fail(f.path() + ": tokenizer.ggml.token_type has " + std::to_string(spec.token_types.size()) +
         " entries for " + std::to_string(n) + " tokens");
  }

  if (spec.model == "gpt2") {
    if (!f.has("tokenizer.ggml.merges")) {
      fail(f.path() + ": tokenizer.ggml.merges is missing (required for a gpt2 BPE vocabulary)");
    }
    spec.merges = f.get_strings("tokenizer.ggml.merges");
    spec.pre = f.get_string("tokenizer.ggml.pre", "default");
    const PreTypeInfo info = pre_type_info(spec.pre);  // throws for an unknown name
    spec.clean_spaces = info.clean_spaces;
    spec.ignore_merges = info.ignore_merges;
    spec.add_bos = info.add_bos;
    spec.add_space_prefix = false;
  } else {
    // SentencePiece defaults in llama.cpp: <unk>=0, <s>=1, </s>=2, BOS added, space prefix.
    spec.pre = "default";
    spec.bos_id = 1;
    spec.eos_id = 2;
    spec.unk_id = 0;
    spec.add_bos = true;
    spec.add_space_prefix = true;
    spec.clean_spaces = false;
  }
  spec.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix", spec.add_space_prefix);
  spec.bos_id = read_id(f, "tokenizer.ggml.bos_token_id", spec.bos_id);
  spec.eos_id = read_id(f, "tokenizer.ggml.eos_token_id", spec.eos_id);
  spec.eot_id = read_id(f, "tokenizer.ggml.eot_token_id", spec.eot_id);
  spec.unk_id = read_id(f, "tokenizer.ggml.unknown_token_id", spec.unk_id);
  spec.pad_id = read_id(f, "tokenizer.ggml.padding_token_id", spec.pad_id);
  for (int32_t* id : {&spec.bos_id, &spec.eos_id, &spec.eot_id, &spec.unk_id, &spec.pad_id}) {
    if (*id >= n) *id = -1;
  }
  spec.add_bos = f.get_bool("tokenizer.ggml.add_bos_token", spec.add_bos);
  spec.add_eos = f.get_bool("tokenizer.ggml.add_eos_token", spec.add_eos);
  spec.chat_template = f.get_string("tokenizer.chat_template", "");
  detect_eot(spec);
  return spec;
}

}  // namespace steer
