// Cross-mitigation (Ball et al.): class-Y wrapped prompts generated while a condition's vector is
// added at one layer after the instruction — every (condition, class, prompt) one row of one
// batched generation, each condition's steering limited to its own rows (Steering::for_rows), so
// an unsteered row computes what it would with no steering attached. See steer/jailbreak.h.
#include <ATen/ATen.h>

#include <cmath>
#include <memory>

#include "steer/error.h"
#include "steer/generate.h"
#include "steer/interventions.h"
#include "steer/jailbreak.h"
#include "steer/model.h"
#include "steer/progress.h"

namespace steer {

MitigationResult run_mitigation(const Model& model, const std::vector<std::vector<std::string>>& targets,
                                const std::vector<MitigationCondition>& conditions, int layer, int max_new_tokens,
                                int batch_size, const ThinkingOptions& thinking, bool progress) {
  const int n_layers = model.config().n_layers;
  if (layer < 0 || layer >= n_layers)
    fail("cross-mitigation: layer " + std::to_string(layer) + " is outside the model's " + std::to_string(n_layers) +
         " layers");
  // Each target encoded once; rows are (condition, class, prompt) in that order.
  std::vector<std::vector<EncodedPrompt>> encoded(targets.size());
  for (size_t y = 0; y < targets.size(); ++y)
    for (const std::string& t : targets[y]) encoded[y].push_back(encode_chat_prompt(model, t));
  std::vector<EncodedPrompt> rows;
  std::vector<std::vector<int64_t>> condition_rows(conditions.size());
  for (size_t c = 0; c < conditions.size(); ++c)
    for (size_t y = 0; y < targets.size(); ++y)
      for (const EncodedPrompt& p : encoded[y]) {
        condition_rows[c].push_back(int64_t(rows.size()));
        rows.push_back(p);
      }
  HookSet hooks(n_layers);
  std::vector<SteeringScope> scopes;
  for (size_t c = 0; c < conditions.size(); ++c) {
    if (!conditions[c].vector.defined()) continue;
    Steering s;
    s.then(make_add(conditions[c].vector.to(at::kFloat).reshape({-1}), 1.f, {layer}, PositionSelector::after_instruction(),
                    SiteKind::kResidPost, conditions[c].name))
        .for_rows(condition_rows[c]);
    scopes.push_back(s.attach(hooks, model));
  }
  GenerateOptions go;  // greedy
  go.max_new_tokens = max_new_tokens;
  go.batch_size = batch_size;
  std::unique_ptr<Progress> bar;
  if (progress) bar = std::make_unique<Progress>("jailbreak: cross-mitigation", int64_t(rows.size()), "completions");
  if (bar) go.on_finished = [&bar](int64_t) { bar->advance(1); };
  std::vector<Generation> gens = generate(model, rows, go, scopes.empty() ? nullptr : &hooks);
  if (bar) bar->finish();

  std::unique_ptr<RefusalJudge> judge = make_substring_judge({}, thinking);
  MitigationResult out;
  size_t k = 0;
  for (size_t c = 0; c < conditions.size(); ++c) {
    out.asr.emplace_back();
    out.ids.emplace_back();
    for (size_t y = 0; y < targets.size(); ++y) {
      std::vector<std::string> texts;
      out.ids[c].emplace_back();
      for (size_t i = 0; i < targets[y].size(); ++i, ++k) {
        texts.push_back(gens[k].text);
        out.ids[c][y].push_back(gens[k].ids);
      }
      const VerdictCounts n = count_verdicts(judge->judge(targets[y], texts, false));
      const size_t judged = n.refused + n.complied;
      out.asr[c].push_back(judged ? double(n.complied) / double(judged) : NAN);
    }
  }
  return out;
}

}  // namespace steer
