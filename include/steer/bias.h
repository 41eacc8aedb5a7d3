// Bias steering (Lu & Rimsky 2024, on the CAA machinery of steer/caa.h): per domain (gender,
// race, religion) a vector per layer from StereoSet intrasentence items — the stereotype and the
// anti-stereotype filling offered as (A)/(B) in a seeded order, the stereotype as the "matching"
// answer — the bias score under steering, the domains' vectors compared, and bias against refusal.
//
//   steer::BiasOptions o;
//   o.items = steer::load_stereoset_domains("../shared/data/stereoset/editbias-intrasentence-dev", {"gender", "race"});
//   steer::BiasRun run = steer::compute_bias_run(*model, o);
//   steer::write_bias_run(run, "runs/bias");   // summary.json, <domain>/vectors.*, *.csv, *.svg, report.html
//
// Scores (held-out items of each domain, three options: stereotype, anti-stereotype, unrelated,
// in a seeded order): p_stereotype = p(S) / (p(S) + p(anti)); p_unrelated = p(U) / (p(S) + p(anti)
// + p(U)), the sanity rate — a model that often picks the meaningless sentence is not reading the
// task. The best layer comes from a layer sweep at −1, 0, +1 (pick_best_layer) on the two-option
// questions.
//
// Bias and refusal: with the bias vector added at `refusal_multipliers`, the first-token refusal
// score (Arditi et al.'s metric; > 0 counts as a refusal) on harmful and harmless prompts; and,
// given a refusal direction (a `steer refusal` run's direction.safetensors), p_stereotype with
// that direction ablated everywhere and added (+1 at its layer, every position).
//
// Failure: steer::Error for a domain with fewer than 10 items, malformed StereoSet rows (naming
// the file and item), a model without a chat template.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "steer/caa.h"
#include "steer/directions.h"
#include "steer/prompts.h"
#include "steer/stats.h"

namespace steer {

class Model;

// One StereoSet item as the bias pipeline asks it.
struct BiasItem {
  std::string id, domain;
  ABItem pair;      // stereotype vs anti-stereotype as (A)/(B); answer_matching = the stereotype
  ABItem triple;    // the same with the unrelated sentence: (A)/(B)/(C); matching = stereotype,
                    // not matching = anti-stereotype
  char unrelated_letter = 'C';
};

// Builds the items of one domain: only items whose bias_type is `domain` (other domains are
// left out, never mixed in), in file order. The options' order is seeded (Sampler(seed)) and
// balanced: the stereotype is at (A) for half of the pairs and at each of (A)/(B)/(C) for a third
// of the triples (± 1), so a vector's mean difference holds no letter component. The same seed
// gives the same letters. steer::Error when no item is left.
std::vector<BiasItem> build_bias_items(const std::vector<StereoItem>& items, const std::string& domain, uint64_t seed);

// Reads <dir>/<domain>_test.json (EditBias's files; StereoSet's own dev.json also works when
// given as the only file via load_stereoset) for each domain.
std::map<std::string, std::vector<StereoItem>> load_stereoset_domains(const std::string& dir,
                                                                      const std::vector<std::string>& domains);

struct BiasOptions {
  std::map<std::string, std::vector<StereoItem>> items;  // domain → its items (required)
  uint64_t seed = 42;
  double test_fraction = 0.3;  // of each domain's items held out
  size_t max_train = 120, max_test = 40;
  std::string system;
  std::vector<double> layer_multipliers = {-1, 0, 1};
  std::vector<double> multipliers = {-2, -1, 0, 1, 2};
  std::vector<double> refusal_multipliers = {-1, 0, 1};  // bias vector added while refusal is measured
  size_t n_refusal_prompts = 32;                        // harmful and harmless each (default sets)
  std::optional<DirectionSet> refusal;                  // a refusal direction (one layer, hook_resid_pre)
  // Another model of the same shape: each domain's vectors from the same train items, compared
  // with this model's per layer, and the domains' cosines in that model. Null: none.
  std::shared_ptr<Model> compare_model;
  int batch_size = 32;
  bool progress = true;
  std::string note;
};

struct BiasDomain {
  std::string name;
  size_t n_train = 0, n_test = 0;
  DirectionSet vectors;
  std::vector<int> layers;
  std::vector<double> layer_p_minus, layer_p_zero, layer_p_plus;  // two-option p_stereotype per layer
  BestLayer best;
  std::vector<double> multipliers;
  std::vector<Interval> p_stereotype;  // per multiplier (three-option questions)
  std::vector<Interval> p_unrelated;   // per multiplier
  // Bias vs refusal with the bias vector added at refusal_multipliers.
  std::vector<double> refusal_multipliers;
  std::vector<double> refusal_harmful, refusal_harmless;            // mean first-token refusal score
  std::vector<double> refusal_rate_harmful, refusal_rate_harmless;  // share of prompts with score > 0
  // With a refusal direction: p_stereotype unsteered / refusal ablated / refusal added.
  std::optional<Interval> p_refusal_ablated, p_refusal_added;
};

struct BiasRun {
  std::vector<BiasDomain> domains;
  int cosine_layer = -1;  // the layer the domain cosines are reported at (median best layer)
  std::map<std::string, std::vector<double>> cosine_by_layer;  // "gender/race" → per layer
  // With a compare model: its name, each domain's cosine with that model's vector per layer, and
  // the domain pairs' cosines per layer in that model.
  std::string compare_model;
  std::map<std::string, std::vector<double>> cross_model_cosine;    // "gender" → per layer
  std::map<std::string, std::vector<double>> compare_cosine_by_layer;  // "gender/race" → per layer
  nlohmann::json metadata;
};

// The option bounds compute_bias_run checks first, for callers that check before loading a model:
// steer::Error naming the option.
void check_bias_options(const BiasOptions& options);
BiasRun compute_bias_run(const Model& model, const BiasOptions& options);
// summary.json: {"domains": {name: {"best_layer", "p_stereotype": {"<m>": p}, "ci95": {"<m>": [lo, hi]},
// "p_unrelated", "n_test", ...}}, "cosine": {"gender/race": c, ...} at cosine_layer,
// "cosine_layer", "bias_refusal": [...]}; <domain>/vectors.safetensors and .gguf;
// p_stereotype.csv, bias_refusal.csv, cosine.csv; p_stereotype.svg, cosine.svg; report.html;
// with a compare model also "compare_model", "cross_model_cosine", "compare_cosine_by_layer" in
// summary.json and compare_model_cosine.csv.
// All or nothing: the files are staged beside out_dir and moved in at the end, so a failed write
// leaves out_dir as it was.
void write_bias_run(const BiasRun& run, const std::string& out_dir);

}  // namespace steer
