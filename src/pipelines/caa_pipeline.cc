// The CAA pipeline's computing half (contract in include/steer/caa.h): data, vectors, sweeps,
// baselines, guard, open-ended answers and analyses; writing is caa_report.cc.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/blas_kernels.h"
#include "core/cpu.h"
#include "models/linear.h"
#include "pipelines/caa_common.h"
#include "steer/caa.h"
#include "steer/capture.h"
#include "steer/error.h"
#include "steer/extract.h"
#include "steer/generate.h"
#include "steer/interventions.h"
#include "steer/model.h"

namespace steer {
namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}


}  // namespace

namespace caa_detail {

std::vector<ABItem> subset(const std::vector<ABItem>& items, size_t k, uint64_t seed) {
  if (items.size() <= k) return items;
  return sample(items, k, seed);
}

char letter_of(const std::string& answer) { return answer.size() == 3 ? answer[1] : '?'; }

// CAA compares p(matching) with p(not matching) only, whatever else the question offers.
std::vector<char> pair_letters(const ABItem& item) {
  std::vector<char> two = {letter_of(item.answer_matching), letter_of(item.answer_not_matching)};
  std::sort(two.begin(), two.end());
  return two;
}

std::vector<ChoiceQuestion> encode_questions(const Model& model, const std::vector<ABItem>& items,
                                             const std::vector<ChatMessage>& history) {
  std::vector<ChoiceQuestion> out;
  for (const ABItem& it : items) out.push_back(encode_choice_question(model, it.question, pair_letters(it), history));
  return out;
}

std::vector<double> p_matching(const ChoiceSweep& sweep, size_t s, const std::vector<ABItem>& items) {
  std::vector<double> out;
  for (size_t q = 0; q < items.size(); ++q) out.push_back(sweep.p(s, q, letter_of(items[q].answer_matching)));
  return out;
}

CaaScore score_of(const std::string& condition, double m, const std::vector<double>& p,
                  const std::vector<double>& reference) {
  CaaScore s;
  s.condition = condition;
  s.multiplier = m;
  s.p = bootstrap_mean(p);
  size_t right = 0;
  for (double x : p) right += x > 0.5;
  s.accuracy = double(right) / double(p.size());
  s.delta = bootstrap_mean_difference(p, reference);
  return s;
}

std::string signed_multiplier(double m) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+g", m);
  return buf;
}

double cosine(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor x = a.to(at::kDouble), y = b.to(at::kDouble);
  const double n = (x.norm() * y.norm()).item<double>();
  return n > 0 ? (at::dot(x, y) / n).item<double>() : 0.0;
}

PairVectors extract_pair_vectors(const Model& model, const std::vector<ABItem>& train, const std::string& system,
                                 bool progress, const std::string& label, const std::string& name,
                                 const std::string& sha256) {
  if (train.empty()) fail(label + ": no train pairs");
  PairVectors out;
  std::vector<EncodedPrompt> pairs;
  for (const ABItem& it : train) {
    pairs.push_back(encode_ab_prompt(model, it.question, it.answer_matching, system));
    pairs.push_back(encode_ab_prompt(model, it.question, it.answer_not_matching, system));
  }
  // The letter's position from the end, the same for every prompt (the answer is its last tokens).
  out.letter_offset = answer_letter_offset(model, pairs[0], letter_of(train[0].answer_matching));
  for (size_t i = 0; i < pairs.size(); ++i) {
    const std::string& ans = i % 2 == 0 ? train[i / 2].answer_matching : train[i / 2].answer_not_matching;
    if (answer_letter_offset(model, pairs[i], letter_of(ans)) != out.letter_offset)
      fail(label + ": the answer letter sits at different positions from the end in train pair " +
               std::to_string(i / 2 + 1),
           "the tokenizer merges \"" + ans + "\" with what precedes it differently");
  }
  // Both answers of a pair in one batch of two: the question is their shared prefix and runs
  // once (steer/runner.h), so a pair costs one prompt and two short tails.
  CaptureOptions cap;
  cap.sites = {SiteKind::kResidPost};
  cap.positions = CapturePositions::explicit_indices({out.letter_offset});
  cap.keep_examples = true;
  cap.batch_size = 2;
  cap.progress = progress;
  cap.label = label;
  Activations acts = capture(model, pairs, cap);
  std::map<int, at::Tensor> vecs;  // examples come back in the order given
  for (int l = 0; l < model.config().n_layers; ++l) {
    at::Tensor ex = acts.examples(SiteKind::kResidPost, l).select(1, 0);  // [2n, d] float32
    out.matching.push_back(ex.slice(0, 0, ex.size(0), 2));
    out.not_matching.push_back(ex.slice(0, 1, ex.size(0), 2));
    vecs[l] = (out.matching.back().to(at::kDouble).mean(0) - out.not_matching.back().to(at::kDouble).mean(0))
                  .to(at::kFloat);
  }
  DirectionMeta dm = model_direction_meta(model, SiteKind::kResidPost, "caa");
  dm.positions = {out.letter_offset};
  dm.datasets[name] = sha256;
  dm.extra["n_pairs"] = train.size();
  out.vectors = DirectionSet(dm, vecs);
  return out;
}

}  // namespace caa_detail

using namespace caa_detail;

std::vector<std::string> caa_behaviors_in(const std::string& data_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  fs::path gen = fs::path(data_dir) / "generate";
  if (!fs::is_directory(gen, ec)) return out;
  for (const auto& e : fs::directory_iterator(gen, ec))
    if (fs::exists(e.path() / "generate_dataset.json")) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

CaaData load_caa_behavior(const std::string& behavior, const std::string& data_dir, uint64_t seed,
                          double builtin_test_fraction) {
  CaaData d;
  d.behavior = behavior;
  if (!data_dir.empty()) {
    const fs::path root(data_dir);
    const fs::path train = root / "generate" / behavior / "generate_dataset.json";
    const fs::path test = root / "test" / behavior / "test_dataset_ab.json";
    const fs::path open = root / "test" / behavior / "test_dataset_open_ended.json";
    if (fs::exists(train) && fs::exists(test)) {
      d.train = load_ab_set(train.string());
      d.test = load_ab_set(test.string());
      if (fs::exists(open)) {
        PromptFormat f;
        f.field = "question";
        for (const Prompt& p : load_prompts(open.string(), f).items) d.open_ended.push_back(p.instruction);
      }
      d.source = data_dir;
      return d;
    }
    const auto& own = default_ab_behaviours();
    if (std::find(own.begin(), own.end(), behavior) == own.end()) {
      std::string have;
      for (const std::string& b : caa_behaviors_in(data_dir)) have += (have.empty() ? "" : ", ") + b;
      fail("caa: behaviour '" + behavior + "' not found: " + train.string() + " and " + test.string() +
               " must both exist",
           have.empty() ? "give --data the folder holding CAA's generate/ and test/ (e.g. ../shared/data/caa/datasets)"
                        : "behaviours in " + data_dir + ": " + have);
    }
  }
  // The project's own A/B set, split into train and test.
  ABSet all = default_ab(behavior);
  Sampler rng(seed);
  std::vector<size_t> order = rng.shuffle_indices(all.items.size());
  const size_t n_test = std::max<size_t>(1, size_t(std::lround(builtin_test_fraction * double(all.items.size()))));
  if (all.items.size() < n_test + 2) fail("caa: the builtin '" + behavior + "' set is too small to split");
  d.train = all;
  d.test = all;
  d.train.items.clear();
  d.test.items.clear();
  for (size_t i = 0; i < order.size(); ++i) (i < n_test ? d.test : d.train).items.push_back(all.items[order[i]]);
  d.train.name = all.name + "_train";
  d.test.name = all.name + "_test";
  d.source = "builtin";
  return d;
}

BestLayer pick_best_layer(const std::vector<int>& layers, const std::vector<double>& p_minus,
                          const std::vector<double>& p_zero, const std::vector<double>& p_plus) {
  if (p_minus.size() != layers.size() || p_zero.size() != layers.size() || p_plus.size() != layers.size())
    fail("pick_best_layer: one value per layer is needed for each multiplier");
  BestLayer best_mono, best_any;
  best_mono.layer = best_any.layer = -1;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (!std::isfinite(p_minus[i]) || !std::isfinite(p_zero[i]) || !std::isfinite(p_plus[i])) continue;
    const double effect = p_plus[i] - p_minus[i];
    if (best_any.layer < 0 || effect > best_any.effect) best_any = {layers[i], effect, false};
    const bool mono = p_minus[i] <= p_zero[i] && p_zero[i] <= p_plus[i];
    if (mono && (best_mono.layer < 0 || effect > best_mono.effect)) best_mono = {layers[i], effect, true};
  }
  if (best_mono.layer >= 0) return best_mono;
  if (best_any.layer < 0) fail("pick_best_layer: no layer has finite scores");
  return best_any;
}

void check_caa_options(const CaaOptions& o) {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) fail("caa: " + what);
  };
  need(o.max_train >= 2, "max_train (--max-train) must be at least 2");
  need(o.max_test >= 1, "max_test (--max-test) must be at least 1");
  need(o.batch_size >= 1, "batch_size (--batch-size) must be at least 1");
  need(o.few_shot <= 16, "few_shot (--few-shot) must be at most 16 examples");
  need(o.max_guard >= 1 || (o.mmlu.items.empty() && o.truthfulqa.items.empty()),
       "max_guard (--max-guard) must be at least 1 (or pass --no-guard)");
  need(o.max_open_ended == 0 || (o.open_ended_tokens >= 1 && o.open_ended_tokens <= 4096),
       "open_ended_tokens (--open-ended-tokens) must be in 1..4096");
  need(o.judge_batch >= 1 && o.judge_batch <= 256, "judge_batch (--judge-batch) must be in 1..256");
  if (o.judge) behavior_score_rubric(o.data.behavior);  // a behaviour without a rubric fails before the work
  need(o.layer >= -1, "layer (--layer) must be ≥ 0");
  need(o.finetune_steps >= 0 && o.finetune_steps <= 100000, "finetune_steps (--finetune) must be in 0..100000");
  need(o.finetune_batch >= 1 && o.finetune_batch <= 256, "finetune_batch (--finetune-batch) must be in 1..256");
  need(std::isfinite(o.finetune_lr) && o.finetune_lr > 0 && o.finetune_lr <= 1,
       "finetune_lr (--finetune-lr) must be in (0, 1]");
  need(!o.layer_multipliers.empty() && !o.multipliers.empty(), "the multiplier lists must not be empty");
  for (const auto* list : {&o.layer_multipliers, &o.multipliers, &o.stacked_multipliers})
    for (double m : *list) need(std::isfinite(m) && std::abs(m) <= 1e4, "a multiplier is not finite or beyond ±10000");
}

CaaRun compute_caa_run(const Model& model, const CaaOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string& behavior = o.data.behavior;
  if (!model.has_chat_template())
    fail("caa: " + model.path() + " has no chat template",
         "CAA reads the answer letter after the chat template's assistant header; pass --chat-template FILE");
  if (o.data.train.items.size() < 2) fail("caa: '" + behavior + "' has fewer than 2 train pairs");
  if (o.data.test.items.empty()) fail("caa: '" + behavior + "' has no test questions");
  check_caa_options(o);
  const int n_layers = model.config().n_layers;
  CaaRun run;
  run.behavior = behavior;
  nlohmann::json& meta = run.metadata;
  meta["behavior"] = behavior;
  meta["model"] = {{"path", model.path()}, {"config", model.config().describe()}, {"dtype", dtype_name(model.dtype())}};
  meta["machine"] = {{"cpu", cpu_summary()}, {"threads", at::get_num_threads()}, {"blas", fix_blas_kernels().summary()},
                     {"float32_linear", float32_linear_backend()}};
  meta["datasets"] = {{"source", o.data.source},
                      {"train", {{"path", o.data.train.path}, {"sha256", o.data.train.sha256}, {"size", o.data.train.size()}}},
                      {"test", {{"path", o.data.test.path}, {"sha256", o.data.test.sha256}, {"size", o.data.test.size()}}}};
  meta["seed"] = o.seed;
  meta["system"] = o.system;
  if (!o.note.empty()) meta["note"] = o.note;
  std::vector<ChatMessage> system_turn;
  if (!o.system.empty()) system_turn.push_back({"system", o.system});

  // 1. vectors: capture hook_resid_post at the answer letter of both answers of each train pair.
  auto t_vec = std::chrono::steady_clock::now();
  const std::vector<ABItem> train = subset(o.data.train.items, o.max_train, o.seed);
  std::vector<at::Tensor> side_m, side_n;  // per layer: [n_pairs, d_model] of each side
  if (o.vectors) {
    run.vectors = *o.vectors;
    run.vectors.check_compatible(model.config(), "caa vectors");
  } else {
    PairVectors pv = extract_pair_vectors(model, train, o.system, o.progress, "vectors", o.data.train.name,
                                          o.data.train.sha256);
    run.vectors = pv.vectors;
    run.vectors.meta().extra["behavior"] = behavior;
    run.letter_offset = pv.letter_offset;
    side_m = std::move(pv.matching);
    side_n = std::move(pv.not_matching);
    if (!o.normalize_with.empty()) {
      std::vector<DirectionSet> all = {run.vectors};
      for (const DirectionSet& s : o.normalize_with) all.push_back(s.only_layers(run.vectors.layers()));
      run.vectors = rescale_to_mean_norm(all)[0];
    }
  }
  meta["vectors"] = {{"given", bool(o.vectors)}, {"n_pairs", o.vectors ? 0 : train.size()}, {"letter_offset", run.letter_offset},
                     {"normalized_with", o.normalize_with.size()}, {"seconds", seconds_since(t_vec)}};

  // Analyses of the vectors and the train activations.
  at::Tensor stacked = at::stack(std::vector<at::Tensor>(
      [&] {
        std::vector<at::Tensor> v;
        for (int l : run.vectors.layers()) v.push_back(run.vectors.at_layer(l).to(at::kDouble));
        return v;
      }()));                                                                           // [L, d]
  at::Tensor unit = stacked / stacked.norm(2, 1, true).clamp_min(1e-30);
  at::Tensor cos = at::matmul(unit, unit.t());
  const int64_t nv = cos.size(0);
  run.layer_cosine.assign(size_t(nv), std::vector<double>(size_t(nv)));
  for (int64_t i = 0; i < nv; ++i)
    for (int64_t j = 0; j < nv; ++j) run.layer_cosine[size_t(i)][size_t(j)] = cos[i][j].item<double>();
  for (int l = 0; l < n_layers && !side_m.empty(); ++l) {
    at::Tensor u = unit[l].to(at::kFloat);
    run.proj_matching.push_back(at::matmul(side_m[size_t(l)], u).mean().item<double>());
    run.proj_not_matching.push_back(at::matmul(side_n[size_t(l)], u).mean().item<double>());
  }

  std::vector<std::pair<std::string, DirectionSet>> compare = o.compare;
  if (o.compare_model) {
    if (o.compare_model->config().d_model != model.config().d_model)
      fail("caa: the model to compare (" + o.compare_model->path() + ") has d_model " +
           std::to_string(o.compare_model->config().d_model) + ", this model " + std::to_string(model.config().d_model));
    PairVectors other = extract_pair_vectors(*o.compare_model, train, o.system, o.progress, "vectors (compare model)",
                                             o.data.train.name, o.data.train.sha256);
    compare.push_back({"model:" + fs::path(o.compare_model->path()).filename().string(), other.vectors});
  }
  for (const auto& [name, other] : compare) {
    if (other.meta().d_model != 0 && other.meta().d_model != model.config().d_model)
      fail("caa: the vectors to compare '" + name + "' have d_model " + std::to_string(other.meta().d_model) +
           ", this model " + std::to_string(model.config().d_model));
    std::vector<std::pair<int, double>> c;
    for (int l : run.vectors.layers())
      if (other.has(l)) c.push_back({l, cosine(run.vectors.at_layer(l), other.at_layer(l))});
    if (c.empty()) fail("caa: the vectors to compare '" + name + "' share no layer with this run's");
    run.compare_cosine.push_back({name, c});
  }

  // 2. layer sweep on the test questions.
  const std::vector<ABItem> test = subset(o.data.test.items, o.max_test, o.seed);
  const std::vector<ChoiceQuestion> questions = encode_questions(model, test, system_turn);
  for (const ABItem& it : test) run.matching_letters.push_back(letter_of(it.answer_matching));
  run.layers = o.layers;
  if (run.layers.empty()) run.layers = run.vectors.layers();
  std::vector<SteerSetting> settings;
  for (int l : run.layers)
    for (double m : o.layer_multipliers) settings.push_back({l, m});
  ChoiceSweepOptions so;
  so.batch_size = std::max(o.batch_size, 8);
  so.progress = o.progress;
  so.label = "layer sweep";
  // Multiplier 0 is the same model at every layer: scored once, shared by every layer's row.
  std::vector<SteerSetting> unique_settings = {{-1, 0}};
  std::vector<size_t> where(settings.size(), 0);
  for (size_t i = 0; i < settings.size(); ++i)
    if (settings[i].steered()) {
      where[i] = unique_settings.size();
      unique_settings.push_back(settings[i]);
    }
  ChoiceSweep swept = choice_sweep(model, questions, run.vectors, unique_settings, so);
  run.layer_sweep.settings = settings;
  run.layer_sweep.letters = swept.letters;
  run.layer_sweep.seconds = swept.seconds;
  for (size_t i = 0; i < settings.size(); ++i) run.layer_sweep.probs.push_back(swept.probs[where[i]]);
  meta["layer_sweep"] = {{"questions", test.size()}, {"settings", unique_settings.size()}, {"seconds", swept.seconds}};

  // 3. best layer: p at −1, 0, +1 per layer (when the sweep has them).
  auto mean_at = [&](int layer, double m) {
    for (size_t s = 0; s < settings.size(); ++s)
      if (settings[s].layer == layer && settings[s].multiplier == m) {
        std::vector<double> p = p_matching(run.layer_sweep, s, test);
        double t = 0;
        for (double x : p) t += x;
        return t / double(p.size());
      }
    return std::nan("");
  };
  if (o.layer >= 0) {
    if (o.layer >= n_layers) fail("caa: --layer " + std::to_string(o.layer) + " is out of range");
    run.best = {o.layer, mean_at(o.layer, 1) - mean_at(o.layer, -1), true};
  } else {
    std::vector<double> pm, pz, pp;
    for (int l : run.layers) {
      pm.push_back(mean_at(l, -1));
      pz.push_back(mean_at(l, 0));
      pp.push_back(mean_at(l, 1));
    }
    run.best = pick_best_layer(run.layers, pm, pz, pp);
  }
  const int L = run.best.layer;

  // 4. multiplier curve at the best layer, with intervals; the paired difference to m = 0.
  std::vector<SteerSetting> msettings;
  for (double m : o.multipliers) msettings.push_back({L, m});
  so.label = "multipliers at layer " + std::to_string(L);
  run.multiplier_sweep = choice_sweep(model, questions, run.vectors, msettings, so);
  {
    std::vector<double> base = p_matching(swept, 0, test);
    for (size_t s = 0; s < msettings.size(); ++s)
      run.multiplier_scores.push_back(score_of("layer " + std::to_string(L) + ", m=" + signed_multiplier(msettings[s].multiplier),
                                               msettings[s].multiplier, p_matching(run.multiplier_sweep, s, test), base));
  }
  std::vector<SteerSetting> stacked_settings = {{-1, 0}};
  for (double m : o.stacked_multipliers) stacked_settings.push_back({L, m});

  // 5. few-shot prompting baselines (k train pairs answered the matching / not matching way as
  // earlier turns), with steering stacked on top.
  if (o.few_shot > 0) {
    auto t_fs = std::chrono::steady_clock::now();
    const std::vector<ABItem> shots = subset(o.data.train.items, o.few_shot, o.seed + 1);
    for (int side = 0; side < 2; ++side) {
      std::vector<ChatMessage> history = system_turn;
      for (const ABItem& it : shots) {
        history.push_back({"user", it.question});
        history.push_back({"assistant", side == 0 ? it.answer_matching : it.answer_not_matching});
      }
      so.label = side == 0 ? "few-shot (matching)" : "few-shot (not matching)";
      ChoiceSweep fs = choice_sweep(model, encode_questions(model, test, history), run.vectors, stacked_settings, so);
      const std::string name = std::string("few-shot ") + (side == 0 ? "matching" : "not matching") + " (k=" +
                               std::to_string(o.few_shot) + ")";
      std::vector<double> base = p_matching(fs, 0, test);
      for (size_t s = 0; s < stacked_settings.size(); ++s) {
        const double m = stacked_settings[s].multiplier;
        run.baselines.push_back(score_of(name + (s == 0 ? "" : ", layer " + std::to_string(L) + " m=" + signed_multiplier(m)),
                                         m, p_matching(fs, s, test), base));
      }
    }
    meta["few_shot"] = {{"k", o.few_shot}, {"seconds", seconds_since(t_fs)}};
  }

  // 5b. the fine-tuning baseline, with steering stacked.
  if (o.finetune_steps > 0) {
    add_finetune_baselines(model, o, {train, test, questions, system_turn, stacked_settings, so}, run);
  }

  // 6. capability guard: p(correct) on MMLU / TruthfulQA A/B, unsteered and steered.
  for (const ABSet* set : {&o.mmlu, &o.truthfulqa}) {
    if (set->items.empty()) continue;
    const std::vector<ABItem> items = subset(set->items, o.max_guard, o.seed);
    so.label = "guard: " + set->name;
    ChoiceSweep g = choice_sweep(model, encode_questions(model, items, system_turn), run.vectors, stacked_settings, so);
    std::vector<double> base = p_matching(g, 0, items);
    for (size_t s = 0; s < stacked_settings.size(); ++s) {
      const double m = stacked_settings[s].multiplier;
      run.guard.push_back(score_of(set->name + (s == 0 ? "" : ", layer " + std::to_string(L) + " m=" + signed_multiplier(m)),
                                   m, p_matching(g, s, items), base));
    }
    meta["guard"][set->name] = {{"path", set->path}, {"sha256", set->sha256}, {"questions", items.size()}};
  }

  // 7. open-ended answers, greedy, unsteered and at the stacked multipliers.
  if (o.max_open_ended > 0 && !o.data.open_ended.empty()) {
    auto t_oe = std::chrono::steady_clock::now();
    std::vector<std::string> qs(o.data.open_ended.begin(),
                                o.data.open_ended.begin() + std::min(o.max_open_ended, o.data.open_ended.size()));
    std::vector<EncodedPrompt> prompts;
    for (const std::string& q : qs) prompts.push_back(encode_chat_prompt(model, q, o.system));
    GenerateOptions go;
    go.max_new_tokens = o.open_ended_tokens;
    go.batch_size = o.batch_size;
    const std::unique_ptr<RefusalJudge> refusal_judge = make_substring_judge();
    for (size_t s = 0; s < stacked_settings.size(); ++s) {
      HookSet hooks(n_layers);
      Steering st;
      const double m = stacked_settings[s].multiplier;
      if (stacked_settings[s].steered())
        st.add(run.vectors.at_layer(L), float(m), {L}, PositionSelector::after_instruction());
      SteeringScope scope = st.attach(hooks, model);
      std::vector<Generation> gen = generate(model, prompts, go, &hooks);
      // Refusal verdicts of the answers through the one refusal-judge interface.
      std::vector<std::string> answers;
      for (const Generation& g : gen) answers.push_back(g.text);
      const std::vector<RefusalVerdict> verdicts = refusal_judge->judge(qs, answers, false);
      run.open_ended_refusal.push_back({s == 0 ? 0.0 : m, count_verdicts(verdicts)});
      for (size_t i = 0; i < qs.size(); ++i) {
        run.open_ended.push_back({qs[i], s == 0 ? 0.0 : m, gen[i].text, gen[i].ids});
        run.open_ended.back().refused = verdicts[i].judged ? int(verdicts[i].refused) : -1;
      }
    }
    meta["open_ended"] = {{"questions", qs.size()}, {"tokens", o.open_ended_tokens}, {"seconds", seconds_since(t_oe)}};
    meta["refusal_judge"] = refusal_judge->describe();
    if (o.judge) judge_open_ended(o, stacked_settings, run);
  }

  // 8. PCA of the train activations at the best layer: both sides projected on the first two
  // principal components of their union (centred), as CAA's plot_activations does.
  if (!side_m.empty()) {
    at::Tensor xm = side_m[size_t(L)].to(at::kDouble);
    at::Tensor xn = side_n[size_t(L)].to(at::kDouble);
    at::Tensor x = at::cat({xm, xn});
    at::Tensor c = x - x.mean(0);
    auto svd = at::linalg_svd(c, /*full_matrices=*/false);
    at::Tensor pcs = std::get<2>(svd).slice(0, 0, 2);  // [2, d]
    at::Tensor pm = at::matmul(xm - x.mean(0), pcs.t()), pn = at::matmul(xn - x.mean(0), pcs.t());
    for (int64_t i = 0; i < pm.size(0); ++i) run.pca_matching.push_back({pm[i][0].item<double>(), pm[i][1].item<double>()});
    for (int64_t i = 0; i < pn.size(0); ++i) run.pca_not_matching.push_back({pn[i][0].item<double>(), pn[i][1].item<double>()});
  }

  meta["best_layer"] = {{"layer", L}, {"effect", run.best.effect}, {"monotone", run.best.monotone},
                        {"forced", o.layer >= 0}};
  meta["seconds"] = seconds_since(t0);
  return run;
}

}  // namespace steer
