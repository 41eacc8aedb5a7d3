// Step 3 of the refusal-direction pipeline: score every candidate r(pos, layer) on the val
// prompts and pick one, as andyrdt/refusal_direction's select_direction.py does.
//
// Cost: per candidate, one ablated pass over harmful + harmless val (bypass and KL come from the
// same logits) and one pass over harmless val with +r at its layer (induce), which starts at that
// layer from the unsteered residual stream kept once (the layers below are the baseline's). The
// val prompts are batched once by length (PromptBatches) and their common chat-template prefix
// runs once per pass as one row, so a pass costs little more than the tokens that differ.
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "steer/json_text.h"
#include "steer/error.h"
#include "steer/progress.h"
#include "generate/prompt_batches.h"
#include "steer/interventions.h"
#include "steer/metrics.h"
#include "steer/refusal.h"

namespace steer {

namespace {

double mean_of(const at::Tensor& t) { return t.numel() ? t.to(at::kDouble).mean().item<double>() : NAN; }

// The first of the paper's filters (select_direction.py: filter_fn) that drops the candidate.
std::string filter_reason(const CandidateScore& c, int layer_cutoff, const RefusalSelectionOptions& o) {
  if (!c.filtered.empty()) return c.filtered;
  if (std::isnan(c.bypass) || std::isnan(c.induce) || std::isnan(c.kl)) return "nan";
  if (c.layer >= layer_cutoff) return "layer ≥ " + std::to_string(layer_cutoff);
  if (c.kl > o.kl_threshold) return "kl > " + json_text(nlohmann::json(o.kl_threshold));
  if (c.induce < o.induce_threshold) return "induce < " + json_text(nlohmann::json(o.induce_threshold));
  return "";
}

}  // namespace

nlohmann::json RefusalSelection::to_json() const {
  nlohmann::json rows = nlohmann::json::array();
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  for (const auto& c : candidates)
    rows.push_back({{"position", c.position},
                    {"layer", c.layer},
                    {"bypass", num(c.bypass)},
                    {"induce", num(c.induce)},
                    {"kl", num(c.kl)},
                    {"filtered", c.filtered}});
  nlohmann::json j = {{"candidates", rows},
                      {"baseline_harmful", num(baseline_harmful)},
                      {"baseline_harmless", num(baseline_harmless)},
                      {"n_harmful_val", n_harmful},
                      {"n_harmless_val", n_harmless},
                      {"seconds", seconds}};
  if (best >= 0) j["selected"] = rows[best];
  else j["selected"] = nullptr;
  if (!fallback.empty()) j["fallback"] = fallback;
  return j;
}

RefusalSelection select_refusal_direction(const Model& model, const RefusalCandidates& candidates,
                                          const std::vector<EncodedPrompt>& harmful_val,
                                          const std::vector<EncodedPrompt>& harmless_val,
                                          const std::vector<int32_t>& refusal_tokens,
                                          const RefusalSelectionOptions& options) {
  auto t0 = std::chrono::steady_clock::now();
  if (harmful_val.empty() || harmless_val.empty()) fail("refusal selection: a val set is empty");
  const int n_layers = model.config().n_layers;
  const at::Tensor& dirs = candidates.directions;  // [n_pos, n_layers, d_model] float64
  if (dirs.dim() != 3 || dirs.size(1) != n_layers || dirs.size(2) != model.config().d_model)
    fail("refusal selection: candidates do not fit the model (" + std::to_string(n_layers) + " layers, d_model " +
         std::to_string(model.config().d_model) + ")");
  const int layer_cutoff = int(n_layers * (1.0 - options.prune_layer_fraction));

  // Harmful and harmless val run together under ablation (one prefix pass); harmless alone for induce.
  std::vector<EncodedPrompt> both = harmful_val;
  both.insert(both.end(), harmless_val.begin(), harmless_val.end());
  const int64_t nh = harmful_val.size(), nl = harmless_val.size();
  PromptBatches val(model, both, options.batch_size), harmless(model, harmless_val, options.batch_size);

  RefusalSelection out;
  out.n_harmful = nh;
  out.n_harmless = nl;
  at::Tensor base = val.last_logits();  // [nh + nl, vocab]
  at::Tensor base_harmless = base.narrow(0, nh, nl);
  harmless.keep_residuals();  // induce passes start at their layer from these
  out.baseline_harmful = mean_of(refusal_score(base.narrow(0, 0, nh), refusal_tokens));
  out.baseline_harmless = mean_of(refusal_score(base_harmless, refusal_tokens));

  const int64_t n_pos = dirs.size(0);
  auto scored = [&](int l) {
    if (!options.layers.empty() && std::find(options.layers.begin(), options.layers.end(), l) == options.layers.end())
      return false;
    return options.score_pruned_layers || l < layer_cutoff;
  };
  int64_t to_score = 0;
  for (int64_t p = 0; p < n_pos; ++p)
    for (int l = 0; l < n_layers; ++l) to_score += scored(l);
  std::optional<Progress> bar;
  if (options.progress) bar.emplace("scoring candidates", to_score, "candidates");
  HookSet hooks(n_layers);
  for (int64_t p = 0; p < n_pos; ++p)
    for (int l = 0; l < n_layers; ++l) {
      CandidateScore c;
      c.position = candidates.positions.at(p);
      c.layer = l;
      if (!scored(l)) {
        c.filtered = l >= layer_cutoff ? "layer ≥ " + std::to_string(layer_cutoff) + " (not scored)" : "not scored";
        out.candidates.push_back(c);
        continue;
      }
      at::Tensor r = dirs[p][l].to(at::kFloat);
      if (!at::isfinite(r).all().item<bool>() || r.norm().item<double>() == 0) {
        c.filtered = "nan";  // a zero or non-finite mean difference cannot be ablated
      } else {
        {
          SteeringScope scope = Steering().ablate(r).attach(hooks, model);
          at::Tensor ablated = val.last_logits(&hooks);
          c.bypass = mean_of(refusal_score(ablated.narrow(0, 0, nh), refusal_tokens));
          c.kl = mean_of(kl_divergence(base_harmless, ablated.narrow(0, nh, nl)));
        }
        {
          SteeringScope scope =
              Steering().add(r, 1.f, {l}, PositionSelector::all(), SiteKind::kResidPre).attach(hooks, model);
          c.induce = mean_of(refusal_score(harmless.last_logits_from(l, &hooks), refusal_tokens));
        }
      }
      out.candidates.push_back(c);
      if (bar) bar->advance();
    }
  if (bar) bar->finish();

  double best_bypass = INFINITY;
  for (size_t i = 0; i < out.candidates.size(); ++i) {
    CandidateScore& c = out.candidates[i];
    c.filtered = filter_reason(c, layer_cutoff, options);
    if (c.filtered.empty() && c.bypass < best_bypass) {
      best_bypass = c.bypass;
      out.best = int(i);
    }
  }
  if (out.best < 0 && options.fallback_max_kl > 0) {
    for (size_t i = 0; i < out.candidates.size(); ++i) {
      const CandidateScore& c = out.candidates[i];
      if (c.layer < layer_cutoff && std::isfinite(c.bypass) && std::isfinite(c.kl) && c.kl <= options.fallback_max_kl &&
          (out.best < 0 || c.bypass < out.candidates[out.best].bypass))
        out.best = int(i);
    }
    if (out.best >= 0)
      out.fallback = "every candidate failed the paper's filters; picked the lowest bypass among layers < " +
                     std::to_string(layer_cutoff) + " with KL ≤ " + json_text(nlohmann::json(options.fallback_max_kl)) +
                     ", ignoring the induce filter";
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace steer
