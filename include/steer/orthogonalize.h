// Weight orthogonalization ("abliteration", Arditi et al. 2024): remove a direction r̂ from
// everything that writes into the residual stream, so that the model can no longer represent
// it — the weight-space twin of runtime ablation (steer::Steering::ablate, interventions.h).
//
//   E ← E − (E r̂) r̂ᵀ        token embedding [vocab, d_model]: every row ⟂ r̂
//   W ← W − r̂ (r̂ᵀ W)        attention output (o_proj / attn_output) and MLP down projection
//                           (down_proj / ffn_down) [d_model, n]: every column ⟂ r̂
//   b ← b − (r̂·b) r̂         their biases [d_model], when present
//
// A tied LM head is untied first (the ORIGINAL embedding becomes output.weight / lm_head.weight),
// because the head reads the residual stream and must keep seeing what it saw.
//
// Exactness: for llama / qwen2 / gemma(1) the orthogonalized model equals the original under
// runtime ablation at every layer, up to float rounding. Gemma2/3 apply an RMSNorm with a learned
// weight AFTER the attention and MLP projections (post_attention_norm / post_ffw_norm), which
// re-introduces a component along r̂ (the norm scales coordinates unequally); there the
// orthogonalized model is only close to runtime ablation, and the report says so (measure the
// KL, see tests/model/test_abliterate_models.cc). Gemma's sqrt(d_model) embedding scale is a
// scalar and commutes with the projection.
//
// Files: abliterate_gguf works on the SOURCE GGUF file: every untouched tensor is borrowed from
// its memory map and written byte for byte, every metadata key is copied, the modified tensors are
// written as F32 (default), F16, BF16, or re-quantized to their source type. The GGUF tensors
// touched here are stored row-major with ne = {n, d_model} (attn_output, ffn_down) or {d_model,
// vocab} (token_embd), which is the HF layout as is — llama's Q/K permutation concerns Q/K only,
// which are not touched — so the math runs on the stored layout and writes it back unchanged in
// shape. abliterate_hf_dir does the same for a Hugging Face directory and writes
// OUT_DIR/model.safetensors plus the config and tokenizer files.
//
// Failure: steer::Error naming the file / tensor and the problem — a direction of the wrong
// length (both numbers), zero or non-finite, a source without the expected tensors, an output
// type that is not F32/F16/BF16, an existing output directory. Outputs are written atomically.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "steer/ggml_types.h"

namespace steer {

// ---- the math (pure tensor functions; float64 inside, result in w's dtype) ----

// r / ‖r‖ as float64 [d]; steer::Error (naming `what`) when r is not 1-D, zero or not finite.
at::Tensor unit_direction(const at::Tensor& r, const std::string& what = "direction");

// rows [n, d] → rows − (rows r̂) r̂ᵀ: every row made orthogonal to r̂ [d]. A 1-D [d] input
// (a bias) is one row. Works in chunks of rows, so a [262144, 640] embedding never needs a
// float64 copy of itself.
at::Tensor orthogonalize_rows(const at::Tensor& rows, const at::Tensor& r_hat);

// cols [d, n] → cols − r̂ (r̂ᵀ cols): every column made orthogonal to r̂ [d] (an output
// projection's weight in HF layout [out = d_model, in]).
at::Tensor orthogonalize_cols(const at::Tensor& cols, const at::Tensor& r_hat);

// ---- the files ----

struct AbliterateOptions {
  GGMLType type = GGMLType::F32;  // modified tensors: F32, F16 or BF16
  bool requantize = false;        // GGUF only: modified tensors back to their source type (see below)
  int layer = -1;                 // the direction's layer, recorded in the metadata (-1: not recorded)
  std::string direction_source;   // where the direction came from (a file name), recorded
  bool progress = true;           // progress bar on stderr
};

struct AbliteratedTensor {
  std::string name;      // as in the file ("blk.3.ffn_down.weight", "model.embed_tokens.weight")
  std::string action;    // "orthogonalized", or "untied" (the original embedding copied as the LM head)
  std::string from, to;  // source and written type names ("Q4_1" → "F32")
};

struct AbliterateReport {
  std::vector<AbliteratedTensor> tensors;  // in file order
  std::vector<std::string> warnings;       // e.g. "exact only up to the post-norms" for gemma2/3
  bool untied = false;                     // a tied LM head was written out as its own tensor
  bool exact = true;                       // orthogonalization equals runtime ablation (not gemma2/3)
  std::string direction_sha256;            // of the direction's float32 bytes, as given (before normalizing)
  uint64_t bytes_written = 0;              // size of the model file written
};

// Reads the GGUF model `source`, writes the abliterated model to `output` (a .gguf file, atomic).
// `direction` [d_model] (any norm; normalized here). With requantize, each modified tensor goes
// back to its source type when src/io/dequant.h can quantize it (F32, F16, BF16, Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K); any other source type (e.g. Q2_K, Q3_K) falls back to F16
// with a warning in the report, so the export never fails half-way for a type we cannot write.
// Metadata added: steer.abliterate.{version, source (file name), direction_sha256,
// direction_source, layer, exact, untied_output}; general.name gets the suffix " (abliterated)" so the file is not mistaken for the
// original in model lists.
AbliterateReport abliterate_gguf(const std::string& source, const at::Tensor& direction, const std::string& output,
                                 const AbliterateOptions& options = {});

// Reads a Hugging Face model directory, writes OUT_DIR/model.safetensors (HF names; modified
// tensors as options.type, the rest unchanged in their own dtype) and copies every other
// non-weight file (config.json, tokenizer files, chat template); when the head was tied,
// config.json gets "tie_word_embeddings": false. Everything is written into OUT_DIR.tmp-<pid>
// and renamed to OUT_DIR at the end; OUT_DIR must not exist yet (or be an empty directory).
AbliterateReport abliterate_hf_dir(const std::string& source_dir, const at::Tensor& direction,
                                   const std::string& output_dir, const AbliterateOptions& options = {});

// "f32"/"f16"/"bf16" (any case) → the GGML type; steer::Error naming `option` otherwise.
GGMLType parse_abliterate_type(const std::string& text, const std::string& option = "--type");

}  // namespace steer
