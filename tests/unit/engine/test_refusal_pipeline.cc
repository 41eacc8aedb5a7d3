// The refusal-direction pipeline's machinery on the real tiny model with a small chat template
// (stories260K, F32, 5 layers): PromptBatches equals one plain forward per prompt; every
// candidate's bypass / induce / KL equals a brute-force computation with the interventions
// attached by hand; the paper's filters drop what they should and the lowest bypass wins; an
// all-filtered table is a result, not a crash; the pipeline writes its run folder.
//
// Tolerances: fp32 forwards of different batch shapes differ by ~1e-6 relative in the logits;
// refusal scores and KL are smooth in them, so compare to 1e-4 absolute.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "steer/error.h"
#include "generate/prompt_batches.h"
#include "steer/capture.h"
#include "steer/directions.h"
#include "steer/interventions.h"
#include "steer/metrics.h"
#include "steer/refusal.h"
#include "steer/tokenizer.h"
#include "tiny_models.h"

namespace steer {
namespace {

using test::tiny_chat;

constexpr double kTol = 1e-4;

const std::vector<std::string> kHarmful = {"Tom took the toy from the little girl.", "The dog bit the cat.",
                                           "Lily broke the vase and hid it.", "The boy threw a rock at the bird."};
const std::vector<std::string> kHarmless = {"Lily liked to play in the park.", "The sun was warm and bright.",
                                            "Tom had a red ball.", "They ate cake at the party with friends."};

// The plain reference: each prompt alone, the intervention attached by hand.
at::Tensor one_by_one(const Model& m, const std::vector<EncodedPrompt>& prompts, const Steering& s) {
  HookSet hooks(m.config().n_layers);
  SteeringScope scope = s.attach(hooks, m);
  std::vector<at::Tensor> rows;
  for (const auto& p : prompts) {
    BatchState st;
    rows.push_back(m.forward(make_batch({p.ids}, m.pad_id(), st), st, {&hooks, LogitsMode::kLast})[0]);
  }
  return at::stack(rows);
}

std::vector<int32_t> refusal_tokens(const Model& m) {
  // A token the tiny model gives real probability after "Answer:", so scores are not ±18.4.
  return {m.tokenizer().encode(" The")[0]};
}

TEST(PromptBatches, EqualsOnePromptAtATimeWithAndWithoutHooks) {
  auto m = tiny_chat();
  std::vector<std::string> texts = kHarmful;
  texts.insert(texts.end(), kHarmless.begin(), kHarmless.end());
  auto prompts = encode_prompts(*m, texts);
  PromptBatches batches(*m, prompts, 3);
  EXPECT_GT(batches.prefix_length(), 0) << "the template's user prefix is shared";
  at::Tensor r = at::randn({m->config().d_model});
  for (const Steering& s : {Steering(), Steering().ablate(r)}) {
    HookSet hooks(m->config().n_layers);
    SteeringScope scope = s.attach(hooks, *m);
    at::Tensor got = batches.last_logits(s.empty() ? nullptr : &hooks);
    at::Tensor want = one_by_one(*m, prompts, s);
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-5 * want.abs().max().item<double>());
  }
  PromptBatches unshared(*m, prompts, 8, /*share_prefix=*/false);
  EXPECT_EQ(unshared.prefix_length(), 0);
  EXPECT_LT((unshared.last_logits() - batches.last_logits()).abs().max().item<double>(), 1e-4);
}

TEST(PromptBatches, PassesFromAKeptLayerEqualWholePasses) {
  auto m = tiny_chat();
  auto prompts = encode_prompts(*m, kHarmless);
  PromptBatches batches(*m, prompts, 3);
  at::Tensor base = batches.keep_residuals();
  EXPECT_TRUE(at::equal(base, batches.last_logits()));
  at::Tensor r = at::randn({m->config().d_model});
  for (int l = 0; l < m->config().n_layers; ++l) {
    HookSet hooks(m->config().n_layers);
    SteeringScope scope =
        Steering().add(r, 1.f, {l}, PositionSelector::all(), SiteKind::kResidPre).attach(hooks, *m);
    at::Tensor want = batches.last_logits(&hooks), got = batches.last_logits_from(l, &hooks);
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-5 * want.abs().max().item<double>()) << "layer " << l;
  }
  PromptBatches fresh(*m, prompts, 3);
  EXPECT_THROW(fresh.last_logits_from(1, nullptr), Error);
}

TEST(RefusalSelection, ScoresEqualBruteForceAndFiltersPickTheLowestBypass) {
  auto m = tiny_chat();
  RefusalCandidates cand = refusal_candidates(*m, kHarmful, kHarmless, 4, false);
  const int n_layers = m->config().n_layers;
  ASSERT_EQ(cand.directions.size(1), n_layers);
  auto harmful = encode_prompts(*m, kHarmful), harmless = encode_prompts(*m, kHarmless);
  auto R = refusal_tokens(*m);
  RefusalSelectionOptions o;
  o.progress = false;
  o.batch_size = 3;
  o.kl_threshold = 1e9;        // let KL not decide here
  o.induce_threshold = -1e9;   // nor induce
  RefusalSelection sel = select_refusal_direction(*m, cand, harmful, harmless, R, o);
  ASSERT_EQ(sel.candidates.size(), size_t(cand.directions.size(0) * n_layers));

  at::Tensor base_harmless = one_by_one(*m, harmless, Steering());
  EXPECT_NEAR(sel.baseline_harmful, refusal_score(one_by_one(*m, harmful, Steering()), R).mean().item<double>(), kTol);
  EXPECT_NEAR(sel.baseline_harmless, refusal_score(base_harmless, R).mean().item<double>(), kTol);
  const int cutoff = int(n_layers * 0.8);
  int want_best = -1;
  double best_bypass = INFINITY;
  for (size_t i = 0; i < sel.candidates.size(); ++i) {
    const CandidateScore& c = sel.candidates[i];
    int64_t p = c.position + cand.directions.size(0);  // row of −k…−1
    at::Tensor r = cand.directions[p][c.layer].to(at::kFloat);
    if (r.norm().item<double>() == 0) {
      EXPECT_EQ(c.filtered, "nan") << "a zero mean difference (the template tail at layer 0) cannot be ablated";
      continue;
    }
    double bypass = refusal_score(one_by_one(*m, harmful, Steering().ablate(r)), R).mean().item<double>();
    double kl = kl_divergence(base_harmless, one_by_one(*m, harmless, Steering().ablate(r))).mean().item<double>();
    double induce = refusal_score(one_by_one(*m, harmless, Steering().add(r, 1.f, {c.layer}, PositionSelector::all(),
                                                                           SiteKind::kResidPre)),
                                  R)
                        .mean()
                        .item<double>();
    EXPECT_NEAR(c.bypass, bypass, kTol) << c.position << "," << c.layer;
    EXPECT_NEAR(c.kl, kl, kTol) << c.position << "," << c.layer;
    EXPECT_NEAR(c.induce, induce, kTol) << c.position << "," << c.layer;
    if (c.layer >= cutoff) {
      EXPECT_EQ(c.filtered, "layer ≥ " + std::to_string(cutoff));
    } else {
      EXPECT_EQ(c.filtered, "");
      if (c.bypass < best_bypass) best_bypass = c.bypass, want_best = int(i);
    }
  }
  EXPECT_EQ(sel.best, want_best);

  // The KL and induce filters, with thresholds every candidate fails: a table, no pick.
  o.kl_threshold = -1;
  RefusalSelection none = select_refusal_direction(*m, cand, harmful, harmless, R, o);
  EXPECT_EQ(none.best, -1);
  for (const auto& c : none.candidates) EXPECT_FALSE(c.filtered.empty());
  EXPECT_TRUE(none.to_json()["selected"].is_null());
  o.kl_threshold = 1e9;
  o.induce_threshold = 1e9;
  for (const auto& c : select_refusal_direction(*m, cand, harmful, harmless, R, o).candidates)
    if (c.filtered != "nan" && c.layer < cutoff) EXPECT_EQ(c.filtered.rfind("induce < ", 0), 0u) << c.filtered;
}

TEST(RefusalPipeline, WritesTheRunFolder) {
  auto m = tiny_chat();
  std::string dir = (std::filesystem::temp_directory_path() / ("steer-refusal-" + std::to_string(::getpid()))).string();
  RefusalPipelineOptions o;
  for (int i = 0; i < 12; ++i) {
    o.harmful.items.push_back({kHarmful[i % 4] + " Day " + std::to_string(i) + ".", "", ""});
    o.harmless.items.push_back({kHarmless[i % 4] + " Day " + std::to_string(i) + ".", "", ""});
  }
  o.n_train = 6;
  o.n_val = 3;
  o.filter = false;
  o.batch_size = 4;
  o.progress = false;
  o.refusal_tokens = "#" + std::to_string(refusal_tokens(*m)[0]);
  o.selection.kl_threshold = 1e9;
  o.selection.induce_threshold = -1e9;
  o.eval.max_new_tokens = 4;
  RefusalRun run = run_refusal_pipeline(*m, o, dir);
  ASSERT_GE(run.selection.best, 0);
  ASSERT_TRUE(run.eval.has_value());
  for (const char* f : {"direction.safetensors", "candidates.csv", "candidates.json", "bypass_scores.svg",
                        "induce_scores.svg", "kl_scores.svg", "metadata.json", "summary.json", "summary.csv",
                        "summary.md", "completions.json", "completions.csv", "report.html"})
    EXPECT_TRUE(std::filesystem::exists(dir + "/" + f)) << f;

  nlohmann::json summary = nlohmann::json::parse(std::ifstream(dir + "/summary.json"));
  for (const char* k : {"baseline", "ablation", "addition"}) EXPECT_TRUE(summary["harmful"]["refusal_rate"].contains(k)) << k;
  for (const char* k : {"baseline", "addition"}) EXPECT_TRUE(summary["harmless"]["refusal_rate"].contains(k)) << k;
  for (const char* k : {"kl", "ce", "n", "judge"}) EXPECT_TRUE(summary.contains(k)) << k;
  EXPECT_EQ(summary["n"]["harmful"], 3);  // 12 − 6 train − 3 val left for test
  // The judges are recorded, and every completion has a verdict or is counted as having none.
  EXPECT_EQ(summary["judges"][0]["kind"], "substring");
  EXPECT_EQ(summary["judges"][0]["thinking"]["enabled"], false);
  for (const char* k : {"baseline", "ablation", "addition"}) {
    const nlohmann::json& v = summary["harmful"]["verdicts"][k]["substring"];
    EXPECT_EQ(v["refused"].get<int>() + v["complied"].get<int>() + v["unjudged"].get<int>(), 3) << k;
    EXPECT_EQ(v["unjudged"], 0) << k;  // without CoT judging the substring judge always decides
  }
  nlohmann::json meta = nlohmann::json::parse(std::ifstream(dir + "/metadata.json"));
  EXPECT_EQ(meta["prompts"]["harmful_train"]["sampled"], 6);
  EXPECT_EQ(meta["selected"]["layer"], run.selection.candidates[run.selection.best].layer);
  EXPECT_EQ(meta["machine"]["threads"], at::get_num_threads());  // timings come with their thread count

  // The saved direction is the selected candidate's raw mean difference.
  const CandidateScore& best = run.selection.candidates[run.selection.best];
  DirectionSet saved = load_directions(dir + "/direction.safetensors");
  ASSERT_EQ(saved.layers(), std::vector<int>({best.layer}));
  EXPECT_EQ(saved.meta().site, SiteKind::kResidPre);
  EXPECT_GT(saved.at_layer(best.layer).norm().item<double>(), 0);
  // eval-refusal's writer makes its output folder.
  write_refusal_eval(*run.eval, dir + "/nested/eval", nlohmann::json());
  EXPECT_TRUE(std::filesystem::exists(dir + "/nested/eval/summary.json"));

  // Text that is not valid UTF-8 — a completion cut inside an emoji, a model path with a Latin-1
  // byte — is written as U+FFFD, with the completion's token ids beside it (issue 16, class 3).
  RefusalEval bad = *run.eval;
  ASSERT_FALSE(bad.harmful[0].completions.empty());
  bad.harmful[0].completions[0] = "Sure \xF0\x9F\x98";
  nlohmann::json context = {{"model", {{"path", "/models/caf\xE9.gguf"}}}};
  ASSERT_NO_THROW(write_refusal_eval(bad, dir + "/utf8", context));
  nlohmann::json completions = nlohmann::json::parse(std::ifstream(dir + "/utf8/completions.json"));
  EXPECT_EQ(completions[0]["completion"], "Sure \xEF\xBF\xBD");  // one U+FFFD for the cut character
  EXPECT_EQ(completions[0]["completion_ids"].get<std::vector<int32_t>>(), bad.harmful[0].completion_ids[0]);
  EXPECT_NO_THROW(nlohmann::json::parse(std::ifstream(dir + "/utf8/summary.json")));

  // A writer that fails part-way leaves no folder that looks like a result (issue 16, class 7).
  nlohmann::json broken = {
      {"selected", {{"position", -1}, {"layer", 2}, {"bypass", "not a number"}, {"induce", 0.5}, {"kl", 0.1}}}};
  EXPECT_ANY_THROW(write_refusal_eval(*run.eval, dir + "/failed", broken));  // the report's last step throws
  EXPECT_FALSE(std::filesystem::exists(dir + "/failed"));
  for (const auto& e : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".partial-"), std::string::npos) << e.path();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace steer
