// Contrastive Activation Addition (Rimsky et al. 2023, nrimsky/CAA) end to end on one behaviour:
// A/B pairs → one vector per layer at the answer letter → p(matching answer) over layers ×
// multipliers → the best layer's multiplier curve with bootstrap intervals → baselines (few-shot
// prompting and fine-tuning, with steering stacked on each), the MMLU / TruthfulQA capability
// guard, open-ended generations (scored by a local judge when given), and the vector analyses
// (cosine across layers, behaviours and models, projections, PCA).
//
//   steer::CaaOptions o;
//   o.data = steer::load_caa_behavior("sycophancy", "../shared/data/caa");
//   steer::CaaRun run = steer::compute_caa_run(*model, o);
//   steer::write_caa_run(run, "runs/caa-sycophancy");   // summary.json, vectors.*, *.csv, *.svg, report.html
//
// The algorithm (DESIGN.md §7, as the paper's code does it):
//   vectors   each train question through the chat template with the answer "(A)"/"(B)" as the
//             start of the assistant's turn; hook_resid_post of every layer at the answer letter
//             (its position read from the tokenization); per layer mean(matching − not matching)
//             in float64.
//   score     the test question, "(" as the answer's start; p(matching letter) / (p(A) + p(B))
//             at the last position (steer/ab_eval.h).
//   steering  + m·v[L] at hook_resid_post of layer L, every position after the instruction.
//   sweeps    every layer at layer_multipliers (default −1, 0, +1); the best layer (pick_best_layer)
//             over `multipliers` (default −2 … +2 by 0.5).
//
// Failure: steer::Error for a behaviour with no data, too few items, malformed files (naming the
// file and item), a model without a chat template, an output folder that cannot be written.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "steer/ab_eval.h"
#include "steer/directions.h"
#include "steer/prompts.h"
#include "steer/refusal_judge.h"
#include "steer/score_judge.h"
#include "steer/stats.h"

namespace steer {

class Model;

// A behaviour's data: A/B train (vectors) and test (scores) sets and open-ended questions.
struct CaaData {
  std::string behavior;
  ABSet train, test;
  std::vector<std::string> open_ended;  // may be empty
  std::string source;                   // "builtin" or the folder read
};

// Finds a behaviour in CAA's dataset layout under `data_dir`:
//   generate/<b>/generate_dataset.json, test/<b>/test_dataset_ab.json,
//   test/<b>/test_dataset_open_ended.json (optional).
// With an empty data_dir, or when the folder lacks the behaviour, the project's own sets
// (default_ab_behaviours(): refusal, sycophancy) are used, split into train and test (seeded,
// `builtin_test_fraction` of the items to test). steer::Error naming the paths tried otherwise.
CaaData load_caa_behavior(const std::string& behavior, const std::string& data_dir, uint64_t seed = 42,
                          double builtin_test_fraction = 0.4);
// The behaviours CAA's layout under data_dir holds (folders with a generate set), sorted.
std::vector<std::string> caa_behaviors_in(const std::string& data_dir);

// The paper's system prompt for a behaviour (nrimsky/CAA behaviors.py): side "pos" elicits the
// behaviour, "neg" suppresses it. Known for coordinate-other-ais, corrigible-neutral-HHH,
// hallucination, myopic-reward, power-seeking-inclination, survival-instinct, sycophancy,
// refusal; steer::Error naming them otherwise.
std::string caa_system_prompt(const std::string& behavior, const std::string& side);

// The best layer of a layer sweep at multipliers −1, 0, +1: the largest steering effect
// p(+1) − p(−1) among the layers where the curve is monotone (p(−1) ≤ p(0) ≤ p(+1)); when no
// layer is monotone, the largest effect overall, with monotone = false. Inputs per layer, equal
// lengths; a layer with a non-finite value is skipped. steer::Error when none is usable.
struct BestLayer {
  int layer = -1;
  double effect = 0;     // p(+1) − p(−1) there
  bool monotone = true;  // whether the pick came from the monotone layers
};
BestLayer pick_best_layer(const std::vector<int>& layers, const std::vector<double>& p_minus,
                          const std::vector<double>& p_zero, const std::vector<double>& p_plus);

struct CaaOptions {
  CaaData data;                  // required (load_caa_behavior)
  size_t max_train = 200;        // train pairs used for the vectors (seeded sample when more)
  size_t max_test = 50;          // test questions scored (seeded sample when more)
  uint64_t seed = 42;
  std::string system;            // system message when reading vectors and scoring ("" = none)
  std::vector<int> layers;       // layers of the layer sweep; empty: every layer
  std::vector<double> layer_multipliers = {-1, 0, 1};
  std::vector<double> multipliers = {-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2};
  int layer = -1;                // ≥ 0: use this layer instead of the sweep's best
  // Other behaviours' vectors to normalise with (CAA's normalize_vectors: every behaviour's
  // vector rescaled, per layer, to the mean norm across behaviours); empty: as extracted.
  std::vector<DirectionSet> normalize_with;
  // Vectors to score instead of extracting them (hook_resid_post, every swept layer; e.g. another
  // run's vectors.safetensors). The train set is then used for few-shot examples only, and the
  // activation analyses (projection, PCA) are left out.
  std::optional<DirectionSet> vectors;
  // Vector sets to compare with, by name: other behaviours' vectors (the paper's between-behaviour
  // similarity) or the same behaviour's vectors from another model of the same shape (its
  // base-vs-chat comparison); the cosine with this run's vectors at every common layer.
  std::vector<std::pair<std::string, DirectionSet>> compare;
  // Another model of the same width (e.g. the base model of this chat model, the paper's
  // base-vs-chat comparison): its vectors from the same train pairs join `compare`, named
  // "model:<file name>". Null: none.
  std::shared_ptr<Model> compare_model;
  size_t few_shot = 3;           // k examples per few-shot prompt (0: no prompting baseline)
  std::vector<double> stacked_multipliers = {-1, 1};  // steering on top of the baselines, the guard, open-ended
  ABSet mmlu, truthfulqa;        // capability guard sets (empty: skipped)
  size_t max_guard = 50;         // guard questions per set
  // The fine-tuning baseline (steer/finetune.h): the model fine-tuned towards the matching and,
  // separately, towards the not matching answers of the train pairs (the answer letter's
  // cross-entropy), then scored on the test questions with the stacked multipliers of this
  // model's vectors on top (the paper's steering of fine-tuned models). 0 steps: skipped.
  int finetune_steps = 0;
  int finetune_batch = 4;
  double finetune_lr = 5e-5;     // Adam; 100 steps at 5e-5 move SmolLM2-135M fully (docs/results.md)
  // A local judge model scoring the open-ended answers 0–10 under the behaviour's rubric
  // (steer/score_judge.h), and, to say how far it can be trusted, the project's hand-labelled
  // answers for the behaviour; null: open-ended answers are saved unscored.
  std::shared_ptr<Model> judge;
  int judge_batch = 8;
  size_t max_open_ended = 6;     // open-ended questions generated (0: none)
  int open_ended_tokens = 48;
  int batch_size = 32;
  bool progress = true;
  std::string note;              // shown under the report's title
};

// One condition of a table: a mean with its interval over the questions.
struct CaaScore {
  std::string condition;         // e.g. "few-shot matching, m=+1"
  double multiplier = 0;
  Interval p;                    // mean p(matching) (or p(correct) for the guard) and its 95 % interval
  double accuracy = 0;           // share of questions whose matching probability is > 0.5
  Interval delta;                // paired difference to the condition's unsteered row (0 for that row)
};

struct OpenEndedAnswer {
  std::string question;
  double multiplier = 0;
  std::string answer;
  std::vector<int32_t> answer_ids;  // its tokens (the text may end inside a character)
  std::optional<double> score;  // the judge's 0–10 score (none: no judge, or no number in its reply)
  std::string judge_reply;
  // The refusal judge's verdict (steer/refusal_judge.h, the substring judge): 1 refused, 0 not,
  // -1 no verdict.
  int refused = -1;
};

// The judge's scores of one condition's open-ended answers.
struct JudgedCondition {
  double multiplier = 0;
  Interval score;        // mean 0–10 score over the scored answers, 95 % bootstrap interval
  size_t scored = 0, unscored = 0;  // unscored: the judge's reply held no 0–10 number
};

// The judge on the hand-labelled answers (label 0 or 10): how far it can be trusted.
struct JudgeCheck {
  std::vector<LabelledAnswer> items;
  std::vector<std::optional<double>> scores;  // per item
  size_t unscored = 0;
  double accuracy = 0;         // share of scored items on the label's side of 5
  double mean_abs_error = 0;   // |score − label| over the scored items
};

// One fine-tuning of the baseline: towards which answers, its loss per step and over its data.
struct FinetuneCurve {
  std::string towards;           // "matching" or "not matching"
  std::vector<double> step_loss; // mean cross-entropy of each step's batch (nats)
  double loss_before = 0, loss_after = 0;  // over the first ≤ 64 train pairs
  double seconds = 0;
};

struct CaaRun {
  std::string behavior;
  DirectionSet vectors;           // every layer, hook_resid_post (normalised when asked)
  int64_t letter_offset = -2;     // where the answer letter was read, from the prompt's end
  std::vector<int> layers;        // swept
  std::vector<char> matching_letters;  // per test question, in the sweeps' order
  ChoiceSweep layer_sweep;        // settings: (layer, m) for each swept layer × layer_multiplier
  BestLayer best;                 // of the sweep (or the forced layer)
  ChoiceSweep multiplier_sweep;   // at best.layer, settings in `multipliers` order
  std::vector<CaaScore> multiplier_scores;  // one per multiplier
  std::vector<CaaScore> baselines;          // few-shot prompting and fine-tuning ± stacked steering
  std::vector<FinetuneCurve> finetune;      // the fine-tuning baseline's two trainings (when run)
  std::vector<CaaScore> guard;              // MMLU / TruthfulQA p(correct) ± steering
  std::vector<OpenEndedAnswer> open_ended;
  std::vector<JudgedCondition> open_ended_scores;  // per stacked condition, when judged
  std::vector<std::pair<double, VerdictCounts>> open_ended_refusal;  // per stacked condition: multiplier, verdicts
  std::optional<JudgeCheck> judge_check;
  // Analyses.
  std::vector<std::vector<double>> layer_cosine;  // [layer][layer] of the behaviour's vectors
  std::vector<double> proj_matching, proj_not_matching;  // per layer: mean projection on v̂ of each side
  std::vector<std::vector<double>> pca_matching, pca_not_matching;  // at best.layer: [n][2]
  // options.compare: name → (layer, cosine) at every layer both sets hold.
  std::vector<std::pair<std::string, std::vector<std::pair<int, double>>>> compare_cosine;
  nlohmann::json metadata;        // counts, timings, machine, options
};

// The option bounds compute_caa_run checks first, for callers that check before loading a model
// (the CLI): steer::Error naming the option.
void check_caa_options(const CaaOptions& options);
CaaRun compute_caa_run(const Model& model, const CaaOptions& options);
// The run folder (created if needed): summary.json (the output contract below), vectors.safetensors
// and vectors.gguf (llama.cpp control vector; layer 0 is left out as llama.cpp cannot take it),
// layer_sweep.csv, multiplier_sweep.csv, baselines.csv, guard.csv, open_ended.json,
// finetune_loss.csv and finetune_loss.svg (when fine-tuned), layer_sweep.svg, multiplier_sweep.svg, layer_cosine.svg, projection.svg, pca.svg, report.html.
// summary.json: {"behavior", "best_layer", "layer_sweep": [{"layer", "multiplier", "p_matching"}],
// "multiplier_sweep": [{"multiplier", "p_matching", "ci95": [lo, hi]}], ...}.
// All or nothing: the files are staged beside out_dir and moved in at the end, so a failed write
// leaves out_dir as it was.
void write_caa_run(const CaaRun& run, const std::string& out_dir);

}  // namespace steer
