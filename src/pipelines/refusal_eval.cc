// Step 4 of the refusal-direction pipeline: what the selected direction does to a model's
// behaviour and what it costs, as andyrdt/refusal_direction evaluates it.
//   harmful prompts   greedy completions under baseline, ablation (r̂ out everywhere) and
//                     addition (−1·r at hook_resid_pre of the direction's layer, every position)
//   harmless prompts  baseline and addition (+1·r)
// judged by the paper's substring list, the first-token refusal score of each prompt, and an
// optional local judge model; guards: KL(baseline ‖ ablation) of harmless last-position
// distributions, and cross-entropy on plain harmless text and on the model's own baseline
// harmless completions (the paper's "on-distribution" loss), under each harmful-side condition.
#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <optional>

#include "steer/error.h"
#include "steer/progress.h"
#include "generate/prompt_batches.h"
#include "steer/capture.h"
#include "steer/interventions.h"
#include "steer/judges.h"
#include "steer/refusal_judge.h"
#include "steer/metrics.h"
#include "steer/refusal.h"
#include "steer/tokenizer.h"

namespace steer {

namespace {

double mean_or_nan(const std::vector<double>& v) {
  if (v.empty()) return NAN;
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

struct NamedSteering {
  std::string name;
  Steering steering;  // empty = baseline
};

// Greedy completions of `prompts` under `steering`, batch_size rows at a time.
std::vector<Generation> complete(const Model& model, const std::vector<EncodedPrompt>& prompts,
                                 const Steering& steering, const RefusalEvalOptions& o, Progress* bar) {
  if (prompts.empty()) return {};
  HookSet hooks(model.config().n_layers);
  SteeringScope scope = steering.attach(hooks, model);
  GenerateOptions gen;
  gen.max_new_tokens = o.max_new_tokens;
  gen.batch_size = o.batch_size;
  if (bar) gen.on_finished = [bar](int64_t) { bar->advance(1); };
  return generate(model, prompts, gen, steering.empty() ? nullptr : &hooks);
}

RefusalCondition run_condition(const Model& model, const std::vector<std::string>& texts,
                               const std::vector<EncodedPrompt>& prompts, const NamedSteering& ns,
                               const std::vector<int32_t>& refusal_tokens, const RefusalEvalOptions& o,
                               Progress* bar, std::vector<Generation>* generations) {
  RefusalCondition c;
  c.name = ns.name;
  std::vector<Generation> gens = complete(model, prompts, ns.steering, o, bar);
  for (const auto& g : gens) {
    c.completions.push_back(g.text);
    c.completion_ids.push_back(g.ids);
  }
  auto as_ints = [](const std::vector<RefusalVerdict>& vs) {
    std::vector<int> out;
    for (const RefusalVerdict& v : vs) out.push_back(v.judged ? int(v.refused) : -1);
    return out;
  };
  const std::vector<RefusalVerdict> sv = make_substring_judge({}, o.thinking)->judge(texts, c.completions, false);
  c.refused_substring = as_ints(sv);
  c.substring_counts = count_verdicts(sv);
  HookSet hooks(model.config().n_layers);
  SteeringScope scope = ns.steering.attach(hooks, model);
  at::Tensor scores = refusal_score(PromptBatches(model, prompts, o.batch_size).last_logits(&hooks), refusal_tokens);
  for (int64_t i = 0; i < scores.size(0); ++i) c.refusal_score.push_back(scores[i].item<double>());
  if (o.judge) {
    const std::vector<RefusalVerdict> jv = o.judge->judge(texts, c.completions, false);
    c.refused_judge = as_ints(jv);
    c.judge_counts = count_verdicts(jv);
  }
  if (generations) *generations = std::move(gens);
  return c;
}

nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

}  // namespace

namespace {
double rate_of(const std::vector<int>& verdicts) {
  double n = 0, judged = 0;
  for (int r : verdicts)
    if (r >= 0) n += r, judged += 1;
  return judged > 0 ? n / judged : NAN;
}
}  // namespace

double RefusalCondition::refusal_rate() const { return rate_of(refused_substring); }

double RefusalCondition::judge_rate() const { return rate_of(refused_judge); }

double RefusalCondition::mean_score() const { return mean_or_nan(refusal_score); }

nlohmann::json RefusalEval::summary() const {
  nlohmann::json j;
  auto side = [&](const std::vector<RefusalCondition>& conds) {
    nlohmann::json rate, score, judge, verdicts;
    for (const auto& c : conds) {
      rate[c.name] = num(c.refusal_rate());
      score[c.name] = num(c.mean_score());
      verdicts[c.name]["substring"] = c.substring_counts.to_json();
      if (!c.refused_judge.empty()) {
        judge[c.name] = num(c.judge_rate());
        verdicts[c.name]["judge"] = c.judge_counts.to_json();
      }
    }
    nlohmann::json s = {{"refusal_rate", rate}, {"refusal_score", score}, {"verdicts", verdicts}};
    if (!judge.is_null()) s["judge_refusal_rate"] = judge;
    return s;
  };
  j["harmful"] = side(harmful);
  j["harmless"] = side(harmless);
  j["harmful"]["n"] = harmful_prompts.size();
  j["harmless"]["n"] = harmless_prompts.size();
  j["n"] = {{"harmful", harmful_prompts.size()}, {"harmless", harmless_prompts.size()}};
  j["kl"] = num(kl);
  nlohmann::json ce_t, ce_c;
  for (const auto& [k, v] : ce_text) ce_t[k] = num(v);
  for (const auto& [k, v] : ce_completions) ce_c[k] = num(v);
  j["ce"] = {{"harmless_text", ce_t}, {"baseline_completions", ce_c}};
  j["judge"] = judge_name;
  j["judges"] = judges;
  j["seconds"] = seconds;
  return j;
}

RefusalEval evaluate_refusal(const Model& model, const at::Tensor& direction, int layer,
                             const std::vector<std::string>& harmful_test,
                             const std::vector<std::string>& harmless_test,
                             const std::vector<std::string>& harmless_text, const RefusalEvalOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  if (harmful_test.empty() || harmless_test.empty()) fail("refusal eval: a test set is empty");
  if (layer < 0 || layer >= model.config().n_layers)
    fail("refusal eval: layer " + std::to_string(layer) + " is outside the model's " +
         std::to_string(model.config().n_layers) + " layers");
  const std::vector<int32_t> refusal_tokens = o.refusal_tokens.empty() ? refusal_tokens_for(model) : o.refusal_tokens;
  at::Tensor r = direction.to(at::kFloat).reshape({-1});

  NamedSteering baseline{"baseline", Steering()};
  NamedSteering ablation{"ablation", Steering().ablate(r)};
  NamedSteering subtract{"addition", Steering().add(r, -1.f, {layer}, PositionSelector::all(), SiteKind::kResidPre)};
  NamedSteering induce{"addition", Steering().add(r, 1.f, {layer}, PositionSelector::all(), SiteKind::kResidPre)};

  RefusalEval ev;
  ev.harmful_prompts = harmful_test;
  ev.harmless_prompts = harmless_test;
  ev.judges.push_back(make_substring_judge({}, o.thinking)->describe());
  if (o.judge) {
    ev.judge_name = "substring + " + o.judge->name();
    ev.judges.push_back(o.judge->describe());
  }
  std::vector<EncodedPrompt> harmful = encode_prompts(model, harmful_test);
  std::vector<EncodedPrompt> harmless = encode_prompts(model, harmless_test);

  std::optional<Progress> bar;
  if (o.progress) bar.emplace("refusal eval: generating", int64_t(3 * harmful.size() + 2 * harmless.size()), "completions");
  Progress* b = bar ? &*bar : nullptr;
  for (const NamedSteering* ns : {&baseline, &ablation, &subtract})
    ev.harmful.push_back(run_condition(model, harmful_test, harmful, *ns, refusal_tokens, o, b, nullptr));
  std::vector<Generation> harmless_baseline;
  ev.harmless.push_back(run_condition(model, harmless_test, harmless, baseline, refusal_tokens, o, b, &harmless_baseline));
  ev.harmless.push_back(run_condition(model, harmless_test, harmless, induce, refusal_tokens, o, b, nullptr));
  if (bar) bar->finish();

  // KL(baseline ‖ ablation) at the last prompt position of the harmless prompts.
  {
    PromptBatches batches(model, harmless, o.batch_size);
    HookSet hooks(model.config().n_layers);
    at::Tensor base = batches.last_logits();
    SteeringScope scope = ablation.steering.attach(hooks, model);
    ev.kl = kl_divergence(base, batches.last_logits(&hooks)).mean().item<double>();
  }

  // Cross-entropy under the harmful-side interventions (what jailbreaking costs).
  std::vector<std::vector<int32_t>> targets;
  std::vector<EncodedPrompt> ce_prompts;
  for (size_t i = 0; i < harmless_baseline.size(); ++i)
    if (!harmless_baseline[i].ids.empty()) {
      ce_prompts.push_back(harmless[i]);
      targets.push_back(harmless_baseline[i].ids);
    }
  std::vector<std::string> ce_texts = harmless_text;
  if (o.ce_texts > 0 && int64_t(ce_texts.size()) > o.ce_texts) ce_texts.resize(o.ce_texts);
  for (const NamedSteering* ns : {&baseline, &ablation, &subtract}) {
    HookSet hooks(model.config().n_layers);
    SteeringScope scope = ns->steering.attach(hooks, model);
    const HookSet* h = ns->steering.empty() ? nullptr : &hooks;
    if (!ce_texts.empty())
      ev.ce_text[ns->name] = text_loss(model, ce_texts, h, o.batch_size, false, o.ce_max_tokens).mean_ce;
    if (!targets.empty())
      ev.ce_completions[ns->name] = continuation_loss(model, ce_prompts, targets, h, o.batch_size, false).mean_ce;
  }
  ev.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return ev;
}

}  // namespace steer
