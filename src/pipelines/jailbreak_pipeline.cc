// The jailbreak pipeline's computing half (contract in include/steer/jailbreak.h); writing is
// jailbreak_report.cc, the cross-mitigation generation jailbreak_mitigation.cc.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <set>

#include "core/cpu.h"
#include "generate/prompt_batches.h"
#include "steer/capture.h"
#include "steer/error.h"
#include "steer/generate.h"
#include "steer/jailbreak.h"
#include "steer/metrics.h"
#include "steer/model.h"
#include "steer/progress.h"
#include "steer/prompts.h"

namespace steer {
namespace {

double cosine(const at::Tensor& a, const at::Tensor& b) {
  const double na = a.norm().item<double>(), nb = b.norm().item<double>();
  if (na == 0 || nb == 0) return NAN;
  return (a * b).sum().item<double>() / (na * nb);
}

// A mean of 0/1 values with its 95 % bootstrap interval; NaN bounds when there are none.
Interval rate_interval(const std::vector<double>& v) {
  if (v.empty()) return {NAN, NAN, NAN};
  return bootstrap_mean(v);
}

// 0/1 per judged verdict (the unjudged are left out, and counted by count_verdicts).
std::vector<double> refused_values(const std::vector<RefusalVerdict>& vs) {
  std::vector<double> out;
  for (const RefusalVerdict& v : vs)
    if (v.judged) out.push_back(v.refused ? 1.0 : 0.0);
  return out;
}

// A seeded standard-normal vector [d] (Box–Muller on Sampler's 32-bit draws: the same on every platform).
at::Tensor random_normal(int64_t d, uint64_t seed) {
  Sampler rng(seed);
  std::vector<double> v(static_cast<size_t>(d), 0.0);
  for (int64_t i = 0; i < d; i += 2) {
    const double u1 = (double(rng.getrandbits(32)) + 0.5) / 4294967296.0;
    const double u2 = (double(rng.getrandbits(32)) + 0.5) / 4294967296.0;
    const double r = std::sqrt(-2.0 * std::log(u1));
    v[size_t(i)] = r * std::cos(2 * M_PI * u2);
    if (i + 1 < d) v[size_t(i + 1)] = r * std::sin(2 * M_PI * u2);
  }
  return at::tensor(v, at::kDouble);
}

std::vector<std::string> first_n(const std::vector<std::string>& v, size_t n, uint64_t seed) {
  return sample(v, std::min(n, v.size()), seed);
}

}  // namespace

void check_jailbreak_options(const JailbreakOptions& o) {
  auto at_least = [](const char* option, long long v, long long min) {
    if (v < min) fail(std::string(option) + ": must be ≥ " + std::to_string(min) + ", got " + std::to_string(v));
  };
  at_least("--n", (long long)o.n_prompts, 2);
  at_least("--n-harmless", (long long)o.n_harmless, 2);
  at_least("--mitigation-n", (long long)o.n_mitigation, 1);
  at_least("--max-tokens", o.max_new_tokens, 1);
  at_least("--batch-size", o.batch_size, 1);
  at_least("--layer", o.layer, -1);
  const std::vector<JailbreakClass> classes = o.classes.empty() ? default_jailbreak_classes() : o.classes;
  std::set<std::string> names;
  size_t wrapping = 0;
  for (const JailbreakClass& c : classes) {
    if (!names.insert(c.name).second) fail("--templates: the class \"" + c.name + "\" is given twice");
    render_jailbreak(c, "check");  // names the class when it has no placeholder
    wrapping += !is_identity_template(c);
  }
  if (wrapping < 2) fail("--templates: at least two classes that wrap the request are needed, got " + std::to_string(wrapping));
  for (const std::string& m : o.mitigation_classes)
    if (!names.count(m)) fail("--mitigation-classes: no class named \"" + m + "\"", "list the names in the templates");
  if (o.refusal && o.refusal->vectors().size() != 1)
    fail("--refusal: the refusal direction must hold one layer's vector, it holds " +
         std::to_string(o.refusal->vectors().size()));
}

JailbreakRun compute_jailbreak_run(const Model& model, const JailbreakOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  check_jailbreak_options(o);
  if (!model.has_chat_template()) fail("jailbreak: " + model.path() + " has no chat template", "give --chat-template FILE");
  const int n_layers = model.config().n_layers;
  const int64_t d_model = model.config().d_model;
  if (o.refusal) o.refusal->check_compatible(model.config(), "--refusal");
  const int layer = o.layer < 0 ? int(std::lround(19.0 / 40.0 * n_layers)) : o.layer;
  if (layer >= n_layers)
    fail("--layer: " + std::to_string(layer) + " is outside the model's " + std::to_string(n_layers) + " layers");

  std::vector<JailbreakClass> classes;
  std::vector<std::string> skipped;
  for (const JailbreakClass& c : o.classes.empty() ? default_jailbreak_classes() : o.classes)
    if (is_identity_template(c)) skipped.push_back(c.name);
    else classes.push_back(c);
  const std::vector<std::string> harmful =
      first_n(o.harmful.empty() ? default_harmful().instructions() : o.harmful, o.n_prompts, o.seed);
  const std::vector<std::string> harmless =
      first_n(o.harmless.empty() ? default_harmless().instructions() : o.harmless, o.n_harmless, o.seed);
  if (harmful.size() < 2 || harmless.size() < 2) fail("jailbreak: at least 2 harmful and 2 harmless prompts are needed");
  const size_t n = harmful.size(), k = classes.size();

  // Prompts: plain harmful, harmless, and each class's wrapped harmful prompts.
  std::vector<EncodedPrompt> plain = encode_prompts(model, harmful), harmless_enc = encode_prompts(model, harmless);
  std::vector<std::vector<std::string>> wrapped_text(k);
  std::vector<std::vector<EncodedPrompt>> wrapped(k);
  for (size_t c = 0; c < k; ++c) {
    for (const std::string& p : harmful) wrapped_text[c].push_back(render_jailbreak(classes[c], p));
    wrapped[c] = encode_prompts(model, wrapped_text[c]);
  }
  // The last instruction token sits the template's tail before the end; the tail is the same in
  // every prompt of one model, so it is one explicit position counted from the end.
  const int64_t tail = int64_t(plain[0].ids.size()) - plain[0].instruction_end;
  auto check_tail = [&](const std::vector<EncodedPrompt>& ps) {
    for (const EncodedPrompt& p : ps)
      if (int64_t(p.ids.size()) - p.instruction_end != tail)
        fail("jailbreak: the chat template's post-instruction tail differs between prompts",
             "the last instruction token must be at one position from the end");
  };
  check_tail(plain);
  check_tail(harmless_enc);
  for (const auto& w : wrapped) check_tail(w);
  CaptureOptions co;
  co.sites = {SiteKind::kResidPost};
  co.positions = tail > 0 ? CapturePositions::explicit_indices({-(tail + 1), -1}) : CapturePositions::explicit_indices({-1});
  co.keep_examples = true;
  co.batch_size = o.batch_size;
  co.progress = o.progress;
  const int64_t kInstr = 0, kLast = tail > 0 ? 1 : 0;  // rows of the captured positions
  co.label = "jailbreak: activations (plain, harmless)";
  Activations a_plain = capture(model, plain, co), a_harmless = capture(model, harmless_enc, co);
  co.label = "jailbreak: activations (wrapped)";
  std::vector<EncodedPrompt> all_wrapped;  // class-major: class c's prompts are rows c·n … c·n + n − 1
  for (const auto& w : wrapped) all_wrapped.insert(all_wrapped.end(), w.begin(), w.end());
  const Activations a_wrapped = capture(model, all_wrapped, co);
  // Class c's examples at layer l: [n, n_pos, d_model] float64.
  auto class_examples = [&](size_t c, int l) {
    return a_wrapped.examples(SiteKind::kResidPost, l).narrow(0, int64_t(c * n), int64_t(n)).to(at::kDouble);
  };

  JailbreakRun run;
  run.layer = layer;
  run.n_layers = n_layers;
  run.harmfulness = at::zeros({n_layers, d_model}, at::kDouble);
  for (int l = 0; l < n_layers; ++l)
    run.harmfulness[l] = a_plain.mean(SiteKind::kResidPost, l)[kInstr] - a_harmless.mean(SiteKind::kResidPost, l)[kInstr];
  at::Tensor r;
  int refusal_layer = -1;
  if (o.refusal) {
    refusal_layer = o.refusal->vectors().begin()->first;
    r = o.refusal->vectors().begin()->second.to(at::kDouble).reshape({-1});
  }

  // Vectors, cosines, suppression.
  for (size_t c = 0; c < k; ++c) {
    JailbreakClassResult res;
    res.name = classes[c].name;
    at::Tensor v = at::zeros({n_layers, d_model}, at::kDouble);
    for (int l = 0; l < n_layers; ++l) {
      // mean of (wrapped − plain) = (Σ wrapped − Σ plain) / n, summed in float64
      const at::Tensor ex = class_examples(c, l);  // [n, n_pos, d_model]
      v[l] = (ex.select(1, kLast).sum(0) - a_plain.sum(SiteKind::kResidPost, l)[kLast]) / double(n);
      const at::Tensor h = run.harmfulness[l];
      const double hn = h.norm().item<double>();
      auto mean_proj = [&](const at::Tensor& x) {  // x [n, d_model]: mean of x·ĥ
        return hn > 0 ? (x.matmul(h) / hn).mean().item<double>() : NAN;
      };
      res.proj_plain.push_back(mean_proj(a_plain.examples(SiteKind::kResidPost, l).select(1, kInstr).to(at::kDouble)));
      res.proj_wrapped.push_back(mean_proj(ex.select(1, kInstr)));
    }
    res.norm = v[layer].norm().item<double>();
    res.cos_harmfulness = cosine(v[layer], run.harmfulness[layer]);
    if (r.defined()) res.cos_refusal = cosine(v[layer], r);
    run.vectors[res.name] = v;
    run.classes.push_back(std::move(res));
  }
  run.cosine.assign(k, std::vector<double>(k, NAN));
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j)
      run.cosine[i][j] = cosine(run.vectors[classes[i].name][layer], run.vectors[classes[j].name][layer]);
  for (int l = 0; l < n_layers; ++l) {
    double s = 0;
    size_t pairs = 0;
    for (size_t i = 0; i < k; ++i)
      for (size_t j = i + 1; j < k; ++j) {
        const double c = cosine(run.vectors[classes[i].name][l], run.vectors[classes[j].name][l]);
        if (std::isfinite(c)) s += c, ++pairs;
      }
    run.mean_pairwise_cosine.push_back(pairs ? s / double(pairs) : NAN);
  }
  // PCA of the class vectors at `layer` (centred; coordinates = U·S).
  {
    at::Tensor m = at::zeros({int64_t(k), d_model}, at::kDouble);
    for (size_t c = 0; c < k; ++c) m[int64_t(c)] = run.vectors[classes[c].name][layer];
    at::Tensor centred = m - m.mean(0, true);
    auto [u, s, vh] = at::linalg_svd(centred, false);
    const double total = (s * s).sum().item<double>();
    for (size_t c = 0; c < k; ++c) {
      std::array<double, 2> xy{0, 0};
      for (int64_t p = 0; p < 2 && p < s.size(0); ++p) xy[size_t(p)] = (u[int64_t(c)][p] * s[p]).item<double>();
      run.pca.push_back(xy);
    }
    for (int64_t p = 0; p < 2 && p < s.size(0); ++p)
      run.pca_explained[size_t(p)] = total > 0 ? (s[p] * s[p]).item<double>() / total : NAN;
  }

  // Refusal rates: plain and every class's wrapped prompts in one batched generation.
  std::vector<EncodedPrompt> gen_prompts = plain;
  std::vector<std::string> gen_questions = harmful;
  for (size_t c = 0; c < k; ++c) {
    gen_prompts.insert(gen_prompts.end(), wrapped[c].begin(), wrapped[c].end());
    gen_questions.insert(gen_questions.end(), wrapped_text[c].begin(), wrapped_text[c].end());
  }
  std::vector<std::string> texts;
  {
    GenerateOptions go;
    go.max_new_tokens = o.max_new_tokens;
    go.batch_size = o.batch_size;
    std::unique_ptr<Progress> bar;
    if (o.progress) bar = std::make_unique<Progress>("jailbreak: completions", int64_t(gen_prompts.size()), "completions");
    if (bar) go.on_finished = [&bar](int64_t) { bar->advance(1); };
    for (Generation& g : generate(model, gen_prompts, go)) texts.push_back(std::move(g.text));
    if (bar) bar->finish();
  }
  const std::unique_ptr<RefusalJudge> substring = make_substring_judge({}, o.thinking);
  const std::vector<RefusalVerdict> sv = substring->judge(gen_questions, texts, false);
  std::vector<RefusalVerdict> jv;
  if (o.judge) jv = o.judge->judge(gen_questions, texts, o.progress);
  at::Tensor scores = refusal_score(PromptBatches(model, gen_prompts, o.batch_size).last_logits(), refusal_tokens_for(model));
  auto slice = [&](const std::vector<RefusalVerdict>& v, size_t block) {
    return std::vector<RefusalVerdict>(v.begin() + long(block * n), v.begin() + long((block + 1) * n));
  };
  auto score_stats = [&](size_t block, double& mean) {
    std::vector<double> above;
    double s = 0;
    for (size_t i = 0; i < n; ++i) {
      const double x = scores[int64_t(block * n + i)].item<double>();
      s += x;
      above.push_back(x > 0 ? 1.0 : 0.0);
    }
    mean = s / double(n);
    return rate_interval(above);
  };
  double plain_mean = 0;
  const Interval plain_sub = rate_interval(refused_values(slice(sv, 0)));
  const Interval plain_score = score_stats(0, plain_mean);
  for (const RefusalVerdict& v : slice(sv, 0)) run.plain_completions_refused.push_back(v.judged ? double(v.refused) : NAN);
  std::optional<Interval> plain_judge;
  if (o.judge) plain_judge = rate_interval(refused_values(slice(jv, 0)));
  for (size_t c = 0; c < k; ++c) {
    JailbreakClassResult& res = run.classes[c];
    const std::vector<RefusalVerdict> w = slice(sv, c + 1);
    res.refusal_plain = plain_sub;
    res.refusal_wrapped = rate_interval(refused_values(w));
    res.substring_counts = count_verdicts(w);
    res.score_refusal_plain = plain_score;
    res.mean_score_plain = plain_mean;
    res.score_refusal_wrapped = score_stats(c + 1, res.mean_score_wrapped);
    if (o.judge) {
      const std::vector<RefusalVerdict> wj = slice(jv, c + 1);
      res.judge_plain = plain_judge;
      res.judge_wrapped = rate_interval(refused_values(wj));
      res.judge_counts = count_verdicts(wj);
    }
    res.prompts = wrapped_text[c];
    res.completions.assign(texts.begin() + long((c + 1) * n), texts.begin() + long((c + 2) * n));
  }

  // Cross-mitigation.
  if (o.mitigation) {
    CrossMitigation cm;
    cm.names = o.mitigation_classes;
    if (cm.names.empty())
      for (const JailbreakClass& c : classes) cm.names.push_back(c.name);
    std::vector<std::string> kept;  // identity templates have no vector
    for (const std::string& name : cm.names)
      if (run.vectors.count(name)) kept.push_back(name);
    cm.names = kept;
    cm.n = std::min(o.n_mitigation, n);
    double norm_sum = 0;
    for (const JailbreakClassResult& c : run.classes) norm_sum += c.norm;
    cm.norm = norm_sum / double(k);
    std::vector<std::vector<std::string>> targets;
    for (const std::string& name : cm.names) {
      size_t c = 0;
      while (classes[c].name != name) ++c;
      targets.emplace_back(wrapped_text[c].begin(), wrapped_text[c].begin() + long(cm.n));
    }
    auto scaled = [&](const at::Tensor& v, double sign) {
      const double nv = v.norm().item<double>();
      return nv > 0 ? (v * (sign * cm.norm / nv)).to(at::kFloat) : at::zeros({d_model}, at::kFloat);
    };
    std::vector<MitigationCondition> conds = {{"unsteered", at::Tensor()},
                                              {"random", scaled(random_normal(d_model, o.seed), -1)}};
    for (const std::string& name : cm.names) conds.push_back({"minus " + name, scaled(run.vectors[name][layer], -1)});
    if (r.defined()) conds.push_back({"plus refusal", scaled(r, +1)});
    MitigationResult mr = run_mitigation(model, targets, conds, layer, o.max_new_tokens, o.batch_size, o.thinking, o.progress);
    cm.unsteered = mr.asr[0];
    cm.random_control = mr.asr[1];
    for (size_t x = 0; x < cm.names.size(); ++x) cm.asr.push_back(mr.asr[2 + x]);
    if (r.defined()) cm.refusal_added = mr.asr.back();
    run.mitigation = cm;
  }

  nlohmann::json& meta = run.metadata;
  meta["model"] = {{"path", model.path()}, {"config", model.config().describe()}, {"dtype", dtype_name(model.dtype())}};
  meta["machine"] = {{"cpu", cpu_summary()}, {"threads", at::get_num_threads()}};
  meta["seed"] = o.seed;
  meta["n_prompts"] = n;
  meta["n_harmless"] = harmless.size();
  meta["max_new_tokens"] = o.max_new_tokens;
  meta["site"] = "hook_resid_post";
  meta["positions"] = {{"jailbreak_vector", "last prompt token (-1)"},
                       {"harmfulness", "last instruction token (" + std::to_string(-(tail + 1)) + ")"}};
  meta["judges"] = nlohmann::json::array({substring->describe()});
  if (o.judge) meta["judges"].push_back(o.judge->describe());
  meta["first_token_score"] = {{"refusal_tokens", refusal_tokens_for(model)}, {"refusal_when", "score > 0"}};
  if (o.refusal) meta["refusal"] = {{"layer", refusal_layer}, {"site", site_kind_name(o.refusal->meta().site)}};
  meta["templates"] = nlohmann::json::object();
  for (const JailbreakClass& c : classes) meta["templates"][c.name] = c.text;
  if (!skipped.empty()) meta["skipped_identity_templates"] = skipped;
  if (!o.note.empty()) meta["note"] = o.note;
  meta["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run;
}

}  // namespace steer
