// Pieces the CAA and bias pipelines share (caa_pipeline.cc, bias_pipeline.cc): the A/B vector
// extraction at the answer letter and the scoring helpers. Internal; the API is steer/caa.h.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "steer/ab_eval.h"
#include "steer/caa.h"
#include "steer/prompts.h"

namespace steer::caa_detail {

// A seeded subset (Python random.sample order), or all of them when there are few enough.
std::vector<ABItem> subset(const std::vector<ABItem>& items, size_t k, uint64_t seed);
char letter_of(const std::string& answer);  // "(A)" → 'A'
// The matching and not matching letters, sorted: the pair CAA compares.
std::vector<char> pair_letters(const ABItem& item);
std::vector<ChoiceQuestion> encode_questions(const Model& model, const std::vector<ABItem>& items,
                                             const std::vector<ChatMessage>& history);
// p(matching letter) per question in sweep setting s.
std::vector<double> p_matching(const ChoiceSweep& sweep, size_t s, const std::vector<ABItem>& items);
CaaScore score_of(const std::string& condition, double m, const std::vector<double>& p,
                  const std::vector<double>& reference);
std::string signed_multiplier(double m);  // "+1", "-0.5"

struct PairVectors {
  DirectionSet vectors;                  // every layer, hook_resid_post, float32
  std::vector<at::Tensor> matching, not_matching;  // per layer [n_pairs, d_model] float32
  int64_t letter_offset = -2;
};
// Both answers of every pair through the chat template (answer as the assistant's start);
// hook_resid_post of every layer at the answer letter; per layer mean(matching − not matching)
// in float64. `name`/`sha256` go into the vectors' metadata.
PairVectors extract_pair_vectors(const Model& model, const std::vector<ABItem>& pairs, const std::string& system,
                                 bool progress, const std::string& label, const std::string& name,
                                 const std::string& sha256);

// What the fine-tuning baseline reuses from the run (caa_finetune.cc).
struct FinetuneInputs {
  const std::vector<ABItem>& train;          // the pairs the vectors came from
  const std::vector<ABItem>& test;
  const std::vector<ChoiceQuestion>& questions;  // the test questions, encoded
  const std::vector<ChatMessage>& system_turn;
  const std::vector<SteerSetting>& stacked;  // unsteered first, then the stacked multipliers
  ChoiceSweepOptions sweep_options;
};
// Fine-tunes towards each side of the train pairs (o.finetune_*) and scores the test questions
// on each copy under the stacked settings: rows to run.baselines, curves to run.finetune.
void add_finetune_baselines(const Model& model, const CaaOptions& o, const FinetuneInputs& in, CaaRun& run);

// Scores run.open_ended with o.judge under the behaviour's rubric (per stacked condition, with
// intervals) and checks the judge on the hand-labelled answers (caa_judge.cc).
void judge_open_ended(const CaaOptions& o, const std::vector<SteerSetting>& stacked, CaaRun& run);

// Cosine similarity of two [d] tensors (0 when one is zero).
double cosine(const at::Tensor& a, const at::Tensor& b);

}  // namespace steer::caa_detail
