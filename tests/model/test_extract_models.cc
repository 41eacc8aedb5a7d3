// Extraction on a default model (SmolLM2-135M-Instruct, fp32): a refusal-style difference in
// means from 16 + 16 of the project's default prompts gives finite vectors of sensible norm
// that separate held-out harmful from harmless prompts; CAA on the default sycophancy A/B set
// reads the answer letter.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "steer/extract.h"
#include "steer/model.h"
#include "steer/prompts.h"
#include "steer/tokenizer.h"
#include "test_paths.h"

namespace steer {
namespace {

std::shared_ptr<Model> smollm2() {
  static std::shared_ptr<Model> m = []() -> std::shared_ptr<Model> {
    std::string path = test::default_model("smollm2-135m");
    if (path.empty()) return nullptr;
    LoadOptions o;
    o.dtype = DType::kFloat32;
    o.progress = false;
    return Model::load(path, o);
  }();
  return m;
}

std::vector<std::string> texts(const std::vector<Prompt>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps) out.push_back(p.instruction);
  return out;
}

TEST(ExtractModels, SmolLM2RefusalMeanDiffSeparatesHeldOutPrompts) {
  auto m = smollm2();
  ASSERT_TRUE(m);
  const int L = m->config().n_layers, D = m->config().d_model;
  // 16 + 16 to extract, 32 + 32 held out (disjoint: one seeded draw per pool).
  RefusalSplits s = split_refusal_prompts(default_harmful(), default_harmless(), 16, 32, 42);
  RefusalCandidates c = refusal_candidates(*m, texts(s.harmful_train), texts(s.harmless_train), 16, false);
  // chatml tail "<|im_end|>\n<|im_start|>assistant\n": 6 tokens (SmolLM2 splits "ass" "istant").
  ASSERT_EQ(c.directions.sizes(), at::IntArrayRef({6, L, D}));
  const int P = 6;
  ASSERT_TRUE(at::isfinite(c.directions).all().item<bool>());

  // Norms: exactly zero at layer 0's input (resid_pre of layer 0 is the token embedding, and
  // −6…−1 are the same template tokens in every prompt), then non-zero and finite.
  at::Tensor norms = c.directions.norm(2, {2});  // [P, L]
  EXPECT_LT(norms.select(1, 0).max().item<double>(), 1e-9) << "layer 0 input = the same template tokens' embeddings";
  for (int l = 1; l < L; ++l)
    for (int p = 0; p < P; ++p) {
      double n = norms[p][l].item<double>();
      EXPECT_GT(n, 1e-3) << "pos " << c.positions[p] << " layer " << l;
      EXPECT_LT(n, 1e4) << "pos " << c.positions[p] << " layer " << l;
    }

  // Held-out projections on the resid_pre direction at the last position of a middle layer.
  const int mid = L / 2;
  at::Tensor r = c.directions[P - 1][mid];  // position −1
  r = r / r.norm();
  CaptureOptions o;
  o.layers = {mid};
  o.positions = CapturePositions::explicit_indices({-1});
  o.keep_examples = true;
  o.progress = false;
  at::Tensor ph = at::matmul(capture_texts(*m, texts(s.harmful_val), o).examples(SiteKind::kResidPre, mid).select(1, 0).to(at::kDouble), r);
  at::Tensor pn = at::matmul(capture_texts(*m, texts(s.harmless_val), o).examples(SiteKind::kResidPre, mid).select(1, 0).to(at::kDouble), r);
  double mh = ph.mean().item<double>(), mn = pn.mean().item<double>();
  double sd = std::sqrt(0.5 * (ph.var().item<double>() + pn.var().item<double>()));
  int64_t ordered = 0;  // pairs (harmful, harmless) in the right order: AUC × 1024
  for (int64_t i = 0; i < ph.size(0); ++i)
    for (int64_t j = 0; j < pn.size(0); ++j) ordered += ph[i].item<double>() > pn[j].item<double>();
  double auc = double(ordered) / double(ph.size(0) * pn.size(0));
  std::printf("layer %d: harmful %.3f ± %.3f, harmless %.3f ± %.3f, separation %.2f sd, AUC %.3f\n", mid, mh,
              std::sqrt(ph.var().item<double>()), mn, std::sqrt(pn.var().item<double>()), (mh - mn) / sd, auc);
  // Measured (fp32, seed 42): separation 2.19 sd, AUC 0.951; every layer from 1 on gives
  // 1.3–3.1 sd. The bounds leave room for other BLAS builds, and are far from chance (AUC 0.5).
  EXPECT_GT(mh, mn);
  EXPECT_GT((mh - mn) / sd, 1.5);
  EXPECT_GE(auc, 0.85);

  // The PromptSet path gives the same vectors as the candidates at −1 (and records the sets).
  PromptSet harmful = default_harmful(), harmless = default_harmless();
  harmful.items = s.harmful_train;
  harmless.items = s.harmless_train;
  ExtractOptions eo;
  eo.progress = false;
  DirectionSet set = extract_mean_diff(*m, harmful, harmless, eo);
  EXPECT_EQ(set.meta().datasets.at("harmful"), harmful.sha256);
  EXPECT_EQ(set.meta().model_arch, "llama");
  for (int l : {1, mid, L - 1})
    EXPECT_LT((set.at_layer(l).to(at::kDouble) - c.directions[P - 1][l]).abs().max().item<double>(),
              1e-5 * c.directions[P - 1][l].abs().max().item<double>() + 1e-6)
        << "layer " << l;
}

TEST(ExtractModels, SmolLM2CaaReadsTheAnswerLetter) {
  auto m = smollm2();
  ASSERT_TRUE(m);
  // "(A)" after the generation prompt is "(", "A", ")": −2 is the letter.
  std::vector<int32_t> ans = m->tokenizer().encode_continuation("(A)");
  ASSERT_EQ(ans.size(), 3u);
  EXPECT_EQ(m->tokenizer().token_to_piece(ans[1]), "A");
  ABSet ab = default_ab("sycophancy");
  ab.items.resize(8);
  ExtractOptions o = caa_options();
  o.progress = false;
  o.layers = {5, 15, 25};
  DirectionSet set = extract_caa(*m, ab, o);
  for (int l : o.layers) {
    double n = set.at_layer(l).norm().item<double>();
    EXPECT_TRUE(std::isfinite(n));
    EXPECT_GT(n, 1e-2) << "layer " << l;
  }
  EXPECT_EQ(set.meta().datasets.count("caa_sycophancy_ab"), 1u);
}

}  // namespace
}  // namespace steer
