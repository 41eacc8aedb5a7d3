// The refusal direction of Arditi et al. 2024 ("Refusal in language models is mediated by a
// single direction"), end to end, as andyrdt/refusal_direction's pipeline does it (DESIGN.md §7):
//
//   1. sample 128 + 128 train and 32 + 32 val prompts (seed 42) and keep the harmful ones the
//      model refuses (first-token refusal score > 0) and the harmless ones it does not (< 0);
//   2. candidates r(pos, layer) = mean(harmful) − mean(harmless) of hook_resid_pre at every
//      layer and every post-instruction position (steer::refusal_candidates);
//   3. score every candidate on the val prompts — bypass: mean refusal score of harmful prompts
//      with r̂ ablated everywhere; induce: mean refusal score of harmless prompts with +1·r added
//      at hook_resid_pre of its layer, every position; KL(baseline ‖ ablated) of harmless
//      last-position distributions — drop NaN, layer ≥ int(0.8·n_layers), KL > 0.1, induce < 0,
//      and pick the lowest bypass;
//   4. evaluate it: greedy completions of held-out prompts (harmful: baseline, ablation, −1·r
//      addition; harmless: baseline, +1·r), judged by the paper's substring list, the
//      first-token metric and optionally a local judge model; KL and cross-entropy guards.
//
//   steer::RefusalPipelineOptions opt;                  // defaults: the project's own prompt sets
//   steer::RefusalRun run = steer::run_refusal_pipeline(*model, opt, "runs/smollm2");
//
// Failure: steer::Error for too few prompts after filtering, a model without a chat template,
// an output folder that cannot be written. "Every candidate was filtered out" is not an error:
// RefusalSelection::best is -1 and the table says why each was dropped.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "steer/extract.h"
#include "steer/generate.h"
#include "steer/prompts.h"
#include "steer/refusal_judge.h"

namespace steer {

// ---- selection (step 3) ----

struct RefusalSelectionOptions {
  double prune_layer_fraction = 0.2;  // drop layers ≥ int(n_layers · (1 − this))
  double kl_threshold = 0.1;          // drop KL > this
  double induce_threshold = 0.0;      // drop induce < this
  bool score_pruned_layers = true;    // also score the layers pruned anyway (the paper's plots show them)
  std::vector<int> layers;            // score only these layers (empty: all); the rest are "not scored"
  // When every candidate is dropped: > 0 picks, for illustration, the lowest bypass among the
  // unpruned candidates with KL ≤ this, ignoring induce (RefusalSelection::fallback says so).
  // 0: no pick, as the paper (its code asserts).
  double fallback_max_kl = 0;
  int batch_size = 32;
  bool progress = true;
};

struct CandidateScore {
  int64_t position = 0;  // −k … −1
  int layer = 0;
  double bypass = NAN;   // mean refusal score, harmful val, r̂ ablated everywhere (lower = better bypass)
  double induce = NAN;   // mean refusal score, harmless val, +1·r at hook_resid_pre of `layer`
  double kl = NAN;       // mean KL(baseline ‖ ablated), harmless val, last position
  std::string filtered;  // why it was dropped ("" = kept): "nan", "layer ≥ 24", "kl > 0.1", "induce < 0", "not scored"
};

struct RefusalSelection {
  std::vector<CandidateScore> candidates;  // every (position, layer), position-major
  int best = -1;                           // index into candidates; -1 when every one was dropped
  std::string fallback;                    // non-empty: `best` broke the paper's filters, and why
  double baseline_harmful = NAN;           // mean refusal score of harmful val, no intervention
  double baseline_harmless = NAN;          // of harmless val
  int64_t n_harmful = 0, n_harmless = 0;   // val prompts scored
  double seconds = 0;
  nlohmann::json to_json() const;
};

// Scores every candidate of `candidates` on the val prompts (chat-encoded) and picks one.
RefusalSelection select_refusal_direction(const Model& model, const RefusalCandidates& candidates,
                                          const std::vector<EncodedPrompt>& harmful_val,
                                          const std::vector<EncodedPrompt>& harmless_val,
                                          const std::vector<int32_t>& refusal_tokens,
                                          const RefusalSelectionOptions& options);

// ---- evaluation (step 4) ----

struct RefusalEvalOptions {
  int max_new_tokens = 96;
  int batch_size = 16;
  // Chain-of-thought judging for every judge (steer/refusal_judge.h): only the final answer
  // outside <think>…</think> (or the configured markers) is judged; no final answer → no verdict.
  ThinkingOptions thinking;
  const RefusalJudge* judge = nullptr;  // optional third judge (e.g. ModelRefusalJudge)
  std::vector<int32_t> refusal_tokens;  // empty: refusal_tokens_for(model)
  int ce_texts = 0;                     // cross-entropy on the first this-many harmless texts; 0: all
  int ce_max_tokens = 256;              // each harmless text truncated to this many tokens
  bool progress = true;
};

struct RefusalCondition {
  std::string name;  // "baseline", "ablation", "addition"
  std::vector<std::string> completions;
  std::vector<std::vector<int32_t>> completion_ids;  // the tokens of each completion (its text may be cut mid-character)
  std::vector<int> refused_substring;   // 1 / 0, or -1: no verdict (CoT judging: no final answer)
  std::vector<int> refused_judge;       // 1 / 0, or -1 when the judge gave no verdict
  std::vector<double> refusal_score;    // first-token metric per prompt
  VerdictCounts substring_counts, judge_counts;  // including how many got no verdict, and why
  double refusal_rate() const;          // substring judge, over judged completions
  double judge_rate() const;            // NaN without a judge; over judged completions
  double mean_score() const;
};

struct RefusalEval {
  std::vector<std::string> harmful_prompts, harmless_prompts;
  std::vector<RefusalCondition> harmful;   // baseline, ablation, addition (−1·r)
  std::vector<RefusalCondition> harmless;  // baseline, addition (+1·r)
  double kl = NAN;                         // mean KL(baseline ‖ ablation), harmless prompts, last position
  // cross-entropy (nats/token): harmless text, and the model's own baseline harmless completions
  std::map<std::string, double> ce_text, ce_completions;  // condition → CE
  std::string judge_name = "substring";
  nlohmann::json judges = nlohmann::json::array();  // describe() of each judge, in summary.json
  double seconds = 0;
  nlohmann::json summary() const;  // the summary.json schema
};

// The direction r (unnormalized, [d_model]) was read at hook_resid_pre of `layer`.
RefusalEval evaluate_refusal(const Model& model, const at::Tensor& direction, int layer,
                             const std::vector<std::string>& harmful_test,
                             const std::vector<std::string>& harmless_test,
                             const std::vector<std::string>& harmless_text, const RefusalEvalOptions& options);

// Writes OUT_DIR/summary.json, summary.csv, summary.md, completions.json, completions.csv and
// report.html — all or nothing: staged beside OUT_DIR and moved in at the end, so a failed write
// leaves OUT_DIR as it was.
void write_refusal_eval(const RefusalEval& eval, const std::string& out_dir, const nlohmann::json& context);

// The summary table as Markdown rows (the same text summary.md holds).
std::string refusal_summary_markdown(const RefusalEval& eval);

// ---- the pipeline ----

struct RefusalPipelineOptions {
  PromptSet harmful, harmless;               // pools; empty: the project's default sets
  std::optional<PromptSet> harmful_test, harmless_test;  // default: what the pools have left over
  size_t n_train = 128, n_val = 32;
  uint64_t seed = 42;
  bool filter = true;                        // the paper's filter_train / filter_val
  // A split that keeps fewer than min_kept prompts after filtering (a model that rarely refuses)
  // is used unfiltered instead, with a warning, and metadata.json says so; strict: an error.
  size_t min_kept = 8;
  bool strict_filter = false;
  std::string refusal_tokens;                // override ("I,As"); empty: from the tokenizer
  RefusalSelectionOptions selection;
  RefusalEvalOptions eval;
  size_t n_test = 32;                        // test prompts per side (at most)
  bool evaluate = true;
  int batch_size = 32;                       // also the selection's (selection.batch_size is ignored)
  bool progress = true;                      // also the selection's and the evaluation's
  std::string note;                          // shown under the report's title (metadata "note"), e.g. "demo size"
};

struct RefusalRun {
  RefusalSelection selection;
  std::optional<RefusalEval> eval;
  nlohmann::json metadata;  // metadata.json: prompts kept, refusal tokens, selected candidate, timings, machine
  DirectionSet direction;   // the selected candidate at its layer (empty when every one was dropped)
  int n_layers = 0;         // of the model (the selection plots' x axis)
};

// Steps 1–4 — sample and filter prompts, read every candidate, select one, evaluate it — without
// writing a file (a warning about a filter that kept too few prompts goes to stderr with progress).
RefusalRun compute_refusal_run(const Model& model, const RefusalPipelineOptions& options);

// The run folder (created if needed): direction.safetensors (and direction.gguf for layer ≥ 1,
// as llama.cpp's control vectors skip layer 0), candidates.csv/json, bypass/induce/kl_scores.svg,
// the evaluation's files (write_refusal_eval) and metadata.json, all or nothing (as write_refusal_eval).
// steer::Error naming the path.
void write_refusal_run(const RefusalRun& run, const std::string& out_dir);

// compute_refusal_run, then write_refusal_run into out_dir — checked first (check_output_folder), so a
// bad path fails before any work.
RefusalRun run_refusal_pipeline(const Model& model, const RefusalPipelineOptions& options, const std::string& out_dir);

}  // namespace steer
