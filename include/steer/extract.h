// Direction extraction, as the papers' code does it (DESIGN.md §7):
//   difference in means   mean(positive) − mean(negative) of activations at one site, per layer
//                          and position, accumulated in float64 (Arditi et al.'s refusal
//                          candidates: hook_resid_pre, every layer, every post-instruction
//                          position −k…−1, not normalized)
//   CAA                    A/B questions with the answer "(A)"/"(B)" as the start of the
//                          assistant turn; hook_resid_post at −2 (the letter); per layer
//                          mean(matching − not matching) (Rimsky et al.)
//   PCA                    first principal component of the centred paired differences
//                          positive_i − negative_i, unit norm, signed so that the positive
//                          examples project higher on average than the negatives
//
//   auto set = steer::extract_mean_diff(*model, steer::default_harmful(), steer::default_harmless(), {});
//   steer::save_directions(set, "refusal.safetensors");
//
// With several explicit positions, a DirectionSet vector is the mean over those positions of
// the per-position differences (refusal_candidates keeps every position apart). Results carry
// metadata: model, arch, n_layers, d_model, site, layers, positions, method, the prompt files'
// sha256, STEER_VERSION, and in `extra` the example counts and the normalization.
//
// Failure: steer::Error for empty or unequal paired sets, positions a prompt lacks, a model
// without a chat template where one is needed, a zero vector asked to be unit-normalized.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "steer/capture.h"
#include "steer/directions.h"

namespace steer {

struct PromptSet;  // steer/prompts.h
struct ABSet;      // steer/prompts.h

enum class Normalize {
  kNone,  // as extracted
  kUnit,  // each layer's vector to norm 1
};
Normalize parse_normalize(const std::string& text, const std::string& option = "--normalize");  // "none", "unit"
const char* normalize_name(Normalize n);

struct ExtractOptions {
  SiteKind site = SiteKind::kResidPre;  // CAA: kResidPost (the block output; see caa_options())
  std::vector<int> layers;              // empty: every layer
  CapturePositions positions;           // default −1; CAA: −2 (the answer letter)
  Normalize normalize = Normalize::kNone;
  bool raw = false;                     // prompt sets: encode as plain text, no chat template
  std::string system;                   // system message for chat formatting ("" = none)
  int batch_size = 16;
  bool progress = true;
};

// ---- difference in means ----

// mean(positive) − mean(negative) at `site` for `layers`: [n_pos, n_layers, d_model] float64.
at::Tensor mean_difference(const Activations& positive, const Activations& negative, SiteKind site,
                           const std::vector<int>& layers);

DirectionSet extract_mean_diff(const Model& model, const std::vector<EncodedPrompt>& positive,
                               const std::vector<EncodedPrompt>& negative, const ExtractOptions& options);
// Chat-formats (or, with options.raw, encodes) the sets' instructions; records their sha256.
DirectionSet extract_mean_diff(const Model& model, const PromptSet& positive, const PromptSet& negative,
                               const ExtractOptions& options);

// Arditi et al.'s candidate refusal directions: hook_resid_pre at every layer and every
// post-instruction position −k…−1 (k = the length of the chat template's tail after the
// instruction, the same for every prompt), float64, not normalized.
struct RefusalCandidates {
  at::Tensor directions;           // [n_pos, n_layers, d_model] float64: mean(harmful) − mean(harmless)
  std::vector<int64_t> positions;  // −k … −1, one per row of `directions`
  DirectionMeta meta;              // site hook_resid_pre, method "mean-diff", datasets, ...
  // The candidates at one position as a set over all layers (float32, metadata filled).
  DirectionSet at_position(int64_t position) const;
};
RefusalCandidates refusal_candidates(const Model& model, const PromptSet& harmful, const PromptSet& harmless,
                                     int batch_size = 32, bool progress = true);
RefusalCandidates refusal_candidates(const Model& model, const std::vector<std::string>& harmful,
                                     const std::vector<std::string>& harmless, int batch_size = 32,
                                     bool progress = true);

// ---- CAA ----

// The chat-templated question with `answer` ("(A)") as the start of the assistant turn:
// template(user = question) + answer, instruction_end at the start of the template's tail.
EncodedPrompt encode_ab_prompt(const Model& model, const std::string& question, const std::string& answer,
                               const std::string& system = "");

// Paired: matching[i] and not_matching[i] are the same question with the two answers.
// `options` is used as given: start from caa_options() (hook_resid_post at −2).
DirectionSet extract_caa(const Model& model, const std::vector<EncodedPrompt>& matching,
                         const std::vector<EncodedPrompt>& not_matching, const ExtractOptions& options);
DirectionSet extract_caa(const Model& model, const ABSet& set, const ExtractOptions& options);
// CAA's default options: hook_resid_post, position −2, every layer.
ExtractOptions caa_options();

// ---- PCA ----

// First principal component of rows of `diffs` [n, d] after centring (float64 SVD), unit
// norm, float64 [d]; the sign makes mean(diffs) · v ≥ 0, i.e. the positive examples project
// higher on average than the negatives. Needs n ≥ 2 and some variance. `explained` (optional)
// receives the component's share of the total variance.
at::Tensor first_principal_component(const at::Tensor& diffs, double* explained = nullptr);

// Paired sets (equal sizes): per layer, PCA of positive_i − negative_i (activations averaged
// over the listed positions per example).
DirectionSet extract_pca(const Model& model, const std::vector<EncodedPrompt>& positive,
                         const std::vector<EncodedPrompt>& negative, const ExtractOptions& options);
DirectionSet extract_pca(const Model& model, const PromptSet& positive, const PromptSet& negative,
                         const ExtractOptions& options);

// ---- normalization ----

DirectionSet apply_normalize(const DirectionSet& set, Normalize n);
// CAA's normalize_vectors: per layer, each set's vector rescaled to the mean norm of all the
// sets' vectors at that layer (layers present in every set only; steer::Error otherwise).
std::vector<DirectionSet> rescale_to_mean_norm(const std::vector<DirectionSet>& sets);

// Metadata for a set extracted from `model` (model, arch, n_layers, d_model, version).
DirectionMeta model_direction_meta(const Model& model, SiteKind site, const std::string& method);

}  // namespace steer
