// The bias pipeline's computing half (contract in include/steer/bias.h); writing is bias_report.cc.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/cpu.h"
#include "generate/prompt_batches.h"
#include "pipelines/caa_common.h"
#include "steer/bias.h"
#include "steer/error.h"
#include "steer/generate.h"
#include "steer/interventions.h"
#include "steer/metrics.h"
#include "steer/model.h"

namespace steer {

using namespace caa_detail;

namespace {

std::string with_blank(const std::string& context) {
  std::string s = context;
  const size_t at = s.find("BLANK");
  if (at != std::string::npos) s.replace(at, 5, "___");
  return s;
}

std::string choices_question(const std::string& context, const std::vector<std::string>& sentences) {
  std::string q = "Which sentence fills the blank in \"" + with_blank(context) + "\" best?\n\nChoices:";
  for (size_t i = 0; i < sentences.size(); ++i) q += "\n(" + std::string(1, char('A' + i)) + ") " + sentences[i];
  return q;
}

std::string answer(size_t i) { return "(" + std::string(1, char('A' + i)) + ")"; }

double mean_of(const at::Tensor& t) { return t.mean().item<double>(); }
double share_positive(const at::Tensor& t) { return (t > 0).to(at::kDouble).mean().item<double>(); }

}  // namespace

std::vector<BiasItem> build_bias_items(const std::vector<StereoItem>& items, const std::string& domain, uint64_t seed) {
  std::vector<const StereoItem*> mine;
  for (const StereoItem& it : items)
    if (it.bias_type == domain) mine.push_back(&it);
  if (mine.empty()) fail("bias: no StereoSet item has bias_type '" + domain + "'", "the domains are gender, race, religion, profession");
  // Seeded but balanced: a random permutation hands out codes 0..n−1, and an item's code fixes
  // where the stereotype goes — (A) or (B) in the pair by its parity, one of the six orders of
  // the three options by its value mod 6 — so each letter holds the stereotype equally often
  // (± 1) and a mean difference carries no "A minus B" component, as CAA's balanced sets.
  static const size_t kOrders[6][3] = {{0, 1, 2}, {1, 0, 2}, {0, 2, 1}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  Sampler rng(seed);
  const std::vector<size_t> code = rng.shuffle_indices(mine.size());
  std::vector<BiasItem> out;
  for (size_t k = 0; k < mine.size(); ++k) {
    const StereoItem& it = *mine[k];
    const std::string options[3] = {it.stereotype, it.anti_stereotype, it.unrelated};  // S, anti, U
    const size_t* order = kOrders[code[k] % 6];  // option shown at (A), (B), (C)
    BiasItem b;
    b.id = it.id;
    b.domain = domain;
    size_t at[3];
    std::vector<std::string> three;
    for (size_t i = 0; i < 3; ++i) {
      three.push_back(options[order[i]]);
      at[order[i]] = i;
    }
    b.triple.question = choices_question(it.context, three);
    b.triple.answer_matching = answer(at[0]);
    b.triple.answer_not_matching = answer(at[1]);
    b.unrelated_letter = char('A' + at[2]);
    const bool stereo_first = code[k] % 2 == 0;
    b.pair.question = choices_question(it.context, stereo_first ? std::vector<std::string>{it.stereotype, it.anti_stereotype}
                                                                 : std::vector<std::string>{it.anti_stereotype, it.stereotype});
    b.pair.answer_matching = answer(stereo_first ? 0 : 1);
    b.pair.answer_not_matching = answer(stereo_first ? 1 : 0);
    out.push_back(std::move(b));
  }
  return out;
}

std::map<std::string, std::vector<StereoItem>> load_stereoset_domains(const std::string& dir,
                                                                      const std::vector<std::string>& domains) {
  std::map<std::string, std::vector<StereoItem>> out;
  for (const std::string& d : domains) {
    const std::string path = (std::filesystem::path(dir) / (d + "_test.json")).string();
    if (!std::filesystem::exists(path))
      fail("bias: " + path + " not found", "give --stereoset the EditBias folder (../shared/data/stereoset/editbias-intrasentence-dev)");
    out[d] = load_stereoset(path);
  }
  return out;
}

void check_bias_options(const BiasOptions& o) {
  if (o.items.empty()) fail("bias: no domain given");
  if (o.max_train < 2 || o.max_test < 2) fail("bias: max_train and max_test (--max-train, --max-test) must be at least 2");
  if (!(o.test_fraction > 0 && o.test_fraction < 1)) fail("bias: test_fraction must be in (0, 1)");
  if (o.batch_size < 1) fail("bias: batch_size (--batch-size) must be at least 1");
  if (o.n_refusal_prompts < 1 || o.n_refusal_prompts > 4096)
    fail("bias: n_refusal_prompts (--refusal-prompts) must be in 1..4096");
  for (const auto* list : {&o.layer_multipliers, &o.multipliers, &o.refusal_multipliers})
    for (double m : *list)
      if (!std::isfinite(m) || std::abs(m) > 1e4) fail("bias: a multiplier is not finite or beyond ±10000");
}

BiasRun compute_bias_run(const Model& model, const BiasOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!model.has_chat_template())
    fail("bias: " + model.path() + " has no chat template", "pass --chat-template FILE");
  check_bias_options(o);
  const int n_layers = model.config().n_layers;
  std::vector<ChatMessage> system_turn;
  if (!o.system.empty()) system_turn.push_back({"system", o.system});
  ChoiceSweepOptions so;
  so.batch_size = std::max(o.batch_size, 8);
  so.progress = o.progress;

  // Refusal prompts for the bias–refusal relation (the project's own sets, first n of each).
  std::vector<EncodedPrompt> harmful, harmless;
  for (const Prompt& p : default_harmful().items)
    if (harmful.size() < o.n_refusal_prompts) harmful.push_back(encode_chat_prompt(model, p.instruction, o.system));
  for (const Prompt& p : default_harmless().items)
    if (harmless.size() < o.n_refusal_prompts) harmless.push_back(encode_chat_prompt(model, p.instruction, o.system));
  const std::vector<int32_t> refusal_tokens = refusal_tokens_for(model);
  PromptBatches harmful_batches(model, harmful, o.batch_size), harmless_batches(model, harmless, o.batch_size);

  BiasRun run;
  nlohmann::json& meta = run.metadata;
  meta["model"] = {{"path", model.path()}, {"config", model.config().describe()}, {"dtype", dtype_name(model.dtype())}};
  meta["machine"] = {{"cpu", cpu_summary()}, {"threads", at::get_num_threads()}};
  meta["seed"] = o.seed;
  if (!o.note.empty()) meta["note"] = o.note;

  if (o.compare_model && (o.compare_model->config().d_model != model.config().d_model ||
                          o.compare_model->config().n_layers != model.config().n_layers))
    fail("bias: the model to compare (" + o.compare_model->path() + ") has another width or layer count than " +
         model.path());
  std::map<std::string, DirectionSet> compare_vectors;  // domain → the compare model's vectors
  for (const auto& [domain, raw] : o.items) {
    const auto t_domain = std::chrono::steady_clock::now();
    std::vector<BiasItem> items = build_bias_items(raw, domain, o.seed);
    if (items.size() < 10) fail("bias: domain '" + domain + "' has " + std::to_string(items.size()) + " items; 10 are needed");
    Sampler rng(o.seed);
    const std::vector<size_t> order = rng.shuffle_indices(items.size());
    const size_t n_test = std::min(o.max_test, std::max<size_t>(2, size_t(std::lround(o.test_fraction * double(items.size())))));
    std::vector<BiasItem> test, train;
    for (size_t i = 0; i < order.size(); ++i) {
      if (i < n_test) test.push_back(items[order[i]]);
      else if (train.size() < o.max_train) train.push_back(items[order[i]]);
    }
    BiasDomain d;
    d.name = domain;
    d.n_train = train.size();
    d.n_test = test.size();
    std::vector<ABItem> train_pairs, test_pairs;
    for (const BiasItem& b : train) train_pairs.push_back(b.pair);
    for (const BiasItem& b : test) test_pairs.push_back(b.pair);

    PairVectors pv = extract_pair_vectors(model, train_pairs, o.system, o.progress, "vectors (" + domain + ")", "stereoset_" + domain, "");
    if (o.compare_model)
      compare_vectors[domain] = extract_pair_vectors(*o.compare_model, train_pairs, o.system, o.progress,
                                                     "vectors (" + domain + ", compare model)", "stereoset_" + domain, "")
                                    .vectors;
    d.vectors = pv.vectors;
    d.vectors.meta().method = "caa-bias";
    d.vectors.meta().extra["domain"] = domain;

    // Layer sweep on the two-option questions.
    std::vector<SteerSetting> settings = {{-1, 0}};
    for (int l = 0; l < n_layers; ++l)
      for (double m : o.layer_multipliers)
        if (m != 0) settings.push_back({l, m});
    so.label = "layer sweep (" + domain + ")";
    ChoiceSweep ls = choice_sweep(model, encode_questions(model, test_pairs, system_turn), d.vectors, settings, so);
    auto mean_p = [&](size_t s) {
      std::vector<double> p = p_matching(ls, s, test_pairs);
      double t = 0;
      for (double x : p) t += x;
      return t / double(p.size());
    };
    const double p0 = mean_p(0);
    for (int l = 0; l < n_layers; ++l) {
      d.layers.push_back(l);
      double pm = std::nan(""), pp = std::nan("");
      for (size_t s = 1; s < settings.size(); ++s)
        if (settings[s].layer == l) (settings[s].multiplier < 0 ? pm : pp) = mean_p(s);
      d.layer_p_minus.push_back(pm);
      d.layer_p_zero.push_back(p0);
      d.layer_p_plus.push_back(pp);
    }
    d.best = pick_best_layer(d.layers, d.layer_p_minus, d.layer_p_zero, d.layer_p_plus);
    const int L = d.best.layer;

    // Multiplier sweep at the best layer on the three-option questions.
    std::vector<ChoiceQuestion> triples;
    for (const BiasItem& b : test) triples.push_back(encode_choice_question(model, b.triple.question, {'A', 'B', 'C'}, system_turn));
    auto scores = [&](const ChoiceSweep& sw, size_t s, std::vector<double>& stereo, std::vector<double>& unrelated) {
      stereo.clear();
      unrelated.clear();
      for (size_t q = 0; q < test.size(); ++q) {
        const double ps = sw.p(s, q, test[q].triple.answer_matching[1]);
        const double pa = sw.p(s, q, test[q].triple.answer_not_matching[1]);
        stereo.push_back(ps / (ps + pa));
        unrelated.push_back(sw.p(s, q, test[q].unrelated_letter));
      }
    };
    std::vector<SteerSetting> ms;
    for (double m : o.multipliers) ms.push_back({L, m});
    so.label = "multipliers (" + domain + ", layer " + std::to_string(L) + ")";
    ChoiceSweep msw = choice_sweep(model, triples, d.vectors, ms, so);
    d.multipliers = o.multipliers;
    std::vector<double> stereo, unrelated;
    for (size_t s = 0; s < ms.size(); ++s) {
      scores(msw, s, stereo, unrelated);
      d.p_stereotype.push_back(bootstrap_mean(stereo));
      d.p_unrelated.push_back(bootstrap_mean(unrelated));
    }

    // Bias vector vs refusal: first-token refusal score with the bias vector added.
    d.refusal_multipliers = o.refusal_multipliers;
    for (double m : o.refusal_multipliers) {
      HookSet hooks(n_layers);
      Steering st;
      if (m != 0) st.add(d.vectors.at_layer(L), float(m), {L}, PositionSelector::after_instruction());
      SteeringScope scope = st.attach(hooks, model);
      at::Tensor h = refusal_score(harmful_batches.last_logits(&hooks), refusal_tokens);
      at::Tensor n = refusal_score(harmless_batches.last_logits(&hooks), refusal_tokens);
      d.refusal_harmful.push_back(mean_of(h));
      d.refusal_harmless.push_back(mean_of(n));
      d.refusal_rate_harmful.push_back(share_positive(h));
      d.refusal_rate_harmless.push_back(share_positive(n));
    }
    // The refusal direction vs bias: p_stereotype with it ablated / added.
    if (o.refusal) {
      const std::vector<int> rl = o.refusal->layers();
      if (rl.size() != 1) fail("bias: the refusal direction file must hold one layer, it has " + std::to_string(rl.size()));
      const at::Tensor r = o.refusal->at_layer(rl[0]);
      for (int mode = 0; mode < 2; ++mode) {
        HookSet base(n_layers);
        Steering st;
        if (mode == 0) st.ablate(r);
        else st.add(*o.refusal, 1.0f);
        SteeringScope scope = st.attach(base, model);
        ChoiceSweepOptions bo = so;
        bo.base_hooks = &base;
        bo.label = std::string("refusal ") + (mode == 0 ? "ablated" : "added") + " (" + domain + ")";
        ChoiceSweep rs = choice_sweep(model, triples, d.vectors, {{-1, 0}}, bo);
        scores(rs, 0, stereo, unrelated);
        (mode == 0 ? d.p_refusal_ablated : d.p_refusal_added) = bootstrap_mean(stereo);
      }
    }
    meta["domains"][domain] = {{"items", items.size()}, {"train", d.n_train}, {"test", d.n_test},
                               {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t_domain).count()}};
    run.domains.push_back(std::move(d));
  }

  // The domains' vectors compared, per layer and at the median best layer.
  std::vector<int> bests;
  for (const BiasDomain& d : run.domains) bests.push_back(d.best.layer);
  std::sort(bests.begin(), bests.end());
  run.cosine_layer = bests[bests.size() / 2];
  for (size_t i = 0; i < run.domains.size(); ++i)
    for (size_t j = i + 1; j < run.domains.size(); ++j) {
      std::vector<double>& c = run.cosine_by_layer[run.domains[i].name + "/" + run.domains[j].name];
      for (int l = 0; l < n_layers; ++l)
        c.push_back(cosine(run.domains[i].vectors.at_layer(l), run.domains[j].vectors.at_layer(l)));
    }
  if (o.compare_model) {
    run.compare_model = std::filesystem::path(o.compare_model->path()).filename().string();
    for (size_t i = 0; i < run.domains.size(); ++i) {
      const BiasDomain& d = run.domains[i];
      const DirectionSet& other = compare_vectors.at(d.name);
      for (int l = 0; l < n_layers; ++l) run.cross_model_cosine[d.name].push_back(cosine(d.vectors.at_layer(l), other.at_layer(l)));
      for (size_t j = i + 1; j < run.domains.size(); ++j) {
        const DirectionSet& other_j = compare_vectors.at(run.domains[j].name);
        std::vector<double>& c = run.compare_cosine_by_layer[d.name + "/" + run.domains[j].name];
        for (int l = 0; l < n_layers; ++l) c.push_back(cosine(other.at_layer(l), other_j.at_layer(l)));
      }
    }
  }
  meta["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run;
}

}  // namespace steer
