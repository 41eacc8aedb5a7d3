// Extraction on the tiny model (stories260K, F32, with a small chat template file) and on
// synthetic data: difference in means equals brute force, refusal candidates cover every
// post-instruction position, CAA equals the by-hand difference at the answer letter, PCA
// equals power iteration and follows the sign rule; normalization.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "steer/error.h"
#include "steer/extract.h"
#include "steer/generate.h"
#include "steer/model.h"
#include "steer/tokenizer.h"
#include "test_paths.h"
#include "tiny_models.h"

namespace steer {
namespace {

using test::tiny;
using test::tiny_chat;

const std::vector<std::string> kPos = {"Once upon a time there was a dog", "The dog ran fast", "A big dog barked"};
const std::vector<std::string> kNeg = {"Lily liked her cat", "The cat slept all day", "Tom and his cat played",
                                       "She gave the cat milk"};

std::vector<EncodedPrompt> raw(const Model& m, const std::vector<std::string>& texts) {
  return encode_prompts(m, texts, /*raw=*/true);
}

// The activation at `site` of layer `l` of one prompt alone: [T, d] float64.
at::Tensor direct(const Model& m, const EncodedPrompt& p, SiteKind site, int l) {
  at::Tensor out;
  HookSet hooks(m.config().n_layers);
  hooks.add({site, l}, [&](at::Tensor& x, const HookContext&) { out = x[0].to(at::kDouble); });
  BatchState st;
  m.forward(make_batch({p.ids}, m.pad_id(), st), st, {&hooks, LogitsMode::kNone});
  return out;
}

// Forward passes of different batch shapes differ by fp32 rounding (~1e-6 of the activations'
// scale); differences of means are compared against that scale.
double err_vs_scale(const at::Tensor& got, const at::Tensor& want, const at::Tensor& scale) {
  return (got.to(at::kDouble) - want.to(at::kDouble)).abs().max().item<double>() /
         scale.abs().max().item<double>();
}
constexpr double kBatchTol = 1e-5;

TEST(Extract, MeanDiffEqualsBruteForceOverStoredExamples) {
  auto m = tiny_chat();
  auto pos = raw(*m, kPos), neg = raw(*m, kNeg);
  ExtractOptions o;
  o.positions = CapturePositions::explicit_indices({-2, -1});
  o.batch_size = 2;
  o.progress = false;
  DirectionSet set = extract_mean_diff(*m, pos, neg, o);

  // The same captures, keeping every example.
  CaptureOptions c;
  c.positions = o.positions;
  c.keep_examples = true;
  c.batch_size = 2;
  c.progress = false;
  Activations a = capture(*m, pos, c), b = capture(*m, neg, c);
  at::Tensor diffs = mean_difference(a, b, SiteKind::kResidPre, a.layers());
  ASSERT_EQ(diffs.sizes(), at::IntArrayRef({2, m->config().n_layers, m->config().d_model}));
  ASSERT_EQ(diffs.scalar_type(), at::kDouble);
  for (int l = 0; l < m->config().n_layers; ++l) {
    // Brute force: per-example activations (float32, the very values summed), float64 means.
    at::Tensor ea = a.examples(SiteKind::kResidPre, l).to(at::kDouble), eb = b.examples(SiteKind::kResidPre, l).to(at::kDouble);
    at::Tensor brute = ea.mean(0) - eb.mean(0);  // [2, d]
    // float64 throughout; only the summation order differs.
    EXPECT_LT((diffs.select(1, l) - brute).abs().max().item<double>(), 1e-12 * ea.abs().max().item<double>());
    // The set's vector: mean over the two positions, rounded to float32 (≤ 1 ulp).
    at::Tensor v = set.at_layer(l);
    EXPECT_LT((v.to(at::kDouble) - brute.mean(0)).abs().max().item<double>(),
              1e-6 * brute.abs().max().item<double>()) << "layer " << l;
  }
  const DirectionMeta& meta = set.meta();
  EXPECT_EQ(meta.method, "mean-diff");
  EXPECT_EQ(meta.site, SiteKind::kResidPre);
  EXPECT_EQ(meta.positions, std::vector<int64_t>({-2, -1}));
  EXPECT_EQ(meta.n_layers, m->config().n_layers);
  EXPECT_EQ(meta.d_model, m->config().d_model);
  EXPECT_EQ(meta.model_arch, "llama");
  EXPECT_EQ(meta.version, STEER_VERSION);
  EXPECT_EQ(meta.kind, "addition");
  EXPECT_EQ(meta.extra["n_positive"], 3);
  EXPECT_EQ(meta.extra["n_negative"], 4);
  EXPECT_EQ(meta.extra["normalize"], "none");
  EXPECT_EQ(set.layers().size(), size_t(m->config().n_layers));
}

// The same prompts on both sides (in any order) would give zero vectors: an error before any
// forward pass, for mean-diff, PCA and CAA alike (issue 16, class 6).
TEST(Extract, IdenticalSetsAreRefusedBeforeTheWork) {
  auto m = tiny_chat();
  auto pos = raw(*m, kPos);
  auto shuffled = pos;
  std::reverse(shuffled.begin(), shuffled.end());
  ExtractOptions o;
  o.progress = false;
  using Extract = DirectionSet (*)(const Model&, const std::vector<EncodedPrompt>&, const std::vector<EncodedPrompt>&,
                                   const ExtractOptions&);
  for (Extract f : {Extract(&extract_mean_diff), Extract(&extract_pca), Extract(&extract_caa)}) {
    std::string e;
    try {
      f(*m, pos, shuffled, o);
    } catch (const Error& err) {
      e = std::string(err.what()) + " | " + err.hint();
    }
    EXPECT_NE(e.find("the positive and negative prompts are the same"), std::string::npos) << e;
    EXPECT_NE(e.find("--positive FILE --negative FILE"), std::string::npos) << e;
  }
}

TEST(Extract, RefusalCandidatesAtEveryPostInstructionPosition) {
  auto m = tiny_chat();
  RefusalCandidates c = refusal_candidates(*m, kPos, kNeg, /*batch_size=*/3, /*progress=*/false);
  EncodedPrompt first = encode_chat_prompt(*m, kPos[0]);
  const int64_t k = int64_t(first.ids.size()) - first.instruction_end;  // "\nAnswer:" tokens
  ASSERT_GE(k, 2);
  ASSERT_EQ(c.directions.sizes(), at::IntArrayRef({k, m->config().n_layers, m->config().d_model}));
  EXPECT_EQ(c.directions.scalar_type(), at::kDouble);
  ASSERT_EQ(c.positions.size(), size_t(k));
  EXPECT_EQ(c.positions.front(), -k);
  EXPECT_EQ(c.positions.back(), -1);
  // By hand: each prompt alone, hook_resid_pre, mean over prompts in float64.
  for (int l : {0, m->config().n_layers - 1}) {
    at::Tensor sum_p = at::zeros({k, m->config().d_model}, at::kDouble), sum_n = sum_p.clone(), scale = sum_p.clone();
    for (const auto& t : kPos) {
      at::Tensor x = direct(*m, encode_chat_prompt(*m, t), SiteKind::kResidPre, l);
      sum_p += x.narrow(0, x.size(0) - k, k);
      scale = at::maximum(scale, x.narrow(0, x.size(0) - k, k).abs());
    }
    for (const auto& t : kNeg) {
      at::Tensor x = direct(*m, encode_chat_prompt(*m, t), SiteKind::kResidPre, l);
      sum_n += x.narrow(0, x.size(0) - k, k);
    }
    at::Tensor want = sum_p / double(kPos.size()) - sum_n / double(kNeg.size());
    EXPECT_LT(err_vs_scale(c.directions.select(1, l), want, scale), kBatchTol) << "layer " << l;
  }
  DirectionSet last = c.at_position(-1);
  EXPECT_EQ(last.meta().positions, std::vector<int64_t>({-1}));
  EXPECT_EQ(last.meta().extra["normalize"], "none");
  EXPECT_TRUE(at::equal(last.at_layer(2), c.directions[k - 1][2].to(at::kFloat)));
  EXPECT_THROW(c.at_position(-k - 1), Error);
}

TEST(Extract, AbPromptPutsTheAnswerAfterTheGenerationPrompt) {
  auto m = tiny_chat();
  EncodedPrompt q = encode_chat_prompt(*m, "Is the sky blue? (A) yes (B) no");
  EncodedPrompt a = encode_ab_prompt(*m, "Is the sky blue? (A) yes (B) no", "(A)");
  EXPECT_EQ(a.instruction_end, q.instruction_end);
  ASSERT_GT(a.ids.size(), q.ids.size());
  EXPECT_TRUE(std::equal(q.ids.begin(), q.ids.end(), a.ids.begin())) << "the question prompt is a prefix";
  std::vector<int32_t> tail(a.ids.begin() + q.ids.size(), a.ids.end());
  EXPECT_EQ(m->tokenizer().decode(tail), "(A)");
  // −2 is the letter: ')' is the last token.
  EXPECT_EQ(m->tokenizer().token_to_piece(a.ids.back()), ")");
  EXPECT_EQ(m->tokenizer().token_to_piece(a.ids[a.ids.size() - 2]), "A");
}

TEST(Extract, CaaEqualsTheByHandDifferenceAtTheLetter) {
  auto m = tiny_chat();
  const std::vector<std::string> questions = {"Do you like dogs? (A) yes (B) no", "Is it cold? (A) no (B) yes",
                                              "Will you help Tom? (A) yes (B) no"};
  const std::vector<std::pair<std::string, std::string>> answers = {{"(A)", "(B)"}, {"(B)", "(A)"}, {"(A)", "(B)"}};
  std::vector<EncodedPrompt> match, nomatch;
  for (size_t i = 0; i < questions.size(); ++i) {
    match.push_back(encode_ab_prompt(*m, questions[i], answers[i].first));
    nomatch.push_back(encode_ab_prompt(*m, questions[i], answers[i].second));
  }
  ExtractOptions o = caa_options();
  o.progress = false;
  o.batch_size = 2;
  DirectionSet set = extract_caa(*m, match, nomatch, o);
  EXPECT_EQ(set.meta().method, "caa");
  EXPECT_EQ(set.meta().site, SiteKind::kResidPost);
  EXPECT_EQ(set.meta().positions, std::vector<int64_t>({-2}));
  EXPECT_EQ(set.meta().extra["n_pairs"], 3);
  for (int l = 0; l < m->config().n_layers; ++l) {
    at::Tensor want = at::zeros({m->config().d_model}, at::kDouble), scale = want.clone();
    for (size_t i = 0; i < match.size(); ++i) {
      at::Tensor xm = direct(*m, match[i], SiteKind::kResidPost, l), xn = direct(*m, nomatch[i], SiteKind::kResidPost, l);
      at::Tensor am = xm[xm.size(0) - 2], an = xn[xn.size(0) - 2];  // the letter
      want += (am - an) / double(match.size());
      scale = at::maximum(scale, am.abs());
    }
    EXPECT_LT(err_vs_scale(set.at_layer(l), want, scale), kBatchTol) << "layer " << l;
  }
  std::vector<EncodedPrompt> fewer(nomatch.begin(), nomatch.begin() + 2);
  EXPECT_THROW(extract_caa(*m, match, fewer, o), Error);
}

// ---- PCA on synthetic data ----

at::Tensor synthetic(int64_t n, int64_t d, uint64_t seed) {
  at::manual_seed(seed);
  at::Tensor base = at::randn({n, d}, at::kDouble) * 0.3;
  at::Tensor axis = at::randn({d}, at::kDouble);
  at::Tensor coeff = at::randn({n, 1}, at::kDouble) * 3.0;
  return base + coeff * axis + 0.5 * at::randn({d}, at::kDouble);  // a mean offset too
}

// The top eigenvector of the covariance by power iteration (brute force, float64).
at::Tensor power_iteration(const at::Tensor& x) {
  at::Tensor c = x - x.mean(0);
  at::Tensor cov = at::matmul(c.t(), c);
  at::Tensor v = at::ones({x.size(1)}, at::kDouble);
  for (int i = 0; i < 5000; ++i) v = at::matmul(cov, v), v = v / v.norm();
  return v;
}

TEST(Extract, FirstPrincipalComponentEqualsPowerIterationWithSignRule) {
  for (uint64_t seed : {1, 2, 3}) {
    at::Tensor x = synthetic(40, 12, seed);
    double share = 0;
    at::Tensor v = first_principal_component(x, &share);
    at::Tensor ref = power_iteration(x);
    EXPECT_NEAR(v.norm().item<double>(), 1.0, 1e-12);
    EXPECT_GT(std::abs(at::dot(v, ref).item<double>()), 1 - 1e-10) << "seed " << seed;
    // Sign rule: the mean difference projects ≥ 0.
    EXPECT_GE(at::dot(x.mean(0), v).item<double>(), 0.0);
    // Explained share = top eigenvalue / trace of the covariance.
    at::Tensor c = x - x.mean(0);
    at::Tensor cov = at::matmul(c.t(), c);
    double top = at::dot(ref, at::matmul(cov, ref)).item<double>();
    EXPECT_NEAR(share, top / cov.trace().item<double>(), 1e-10);
    // Negating the data keeps the axis and flips the sign.
    at::Tensor w = first_principal_component(-x);
    EXPECT_LT((w + v).abs().max().item<double>(), 1e-10);
  }
  EXPECT_THROW(first_principal_component(at::ones({1, 4}, at::kDouble)), Error);
  EXPECT_THROW(first_principal_component(at::ones({5, 4}, at::kDouble)), Error);  // no variance
}

TEST(Extract, PcaOnTheModelFollowsTheSignRule) {
  auto m = tiny_chat();
  std::vector<std::string> neg3(kNeg.begin(), kNeg.begin() + 3);
  auto pos = raw(*m, kPos), neg = raw(*m, neg3);
  ExtractOptions o;
  o.site = SiteKind::kResidPost;
  o.positions = CapturePositions::explicit_indices({-1});
  o.progress = false;
  DirectionSet set = extract_pca(*m, pos, neg, o);
  EXPECT_EQ(set.meta().method, "pca");
  for (int l = 0; l < m->config().n_layers; ++l) {
    at::Tensor v = set.at_layer(l).to(at::kDouble);
    EXPECT_NEAR(v.norm().item<double>(), 1.0, 1e-6);
    double mp = 0, mn = 0;
    for (const auto& p : pos) {
      at::Tensor x = direct(*m, p, SiteKind::kResidPost, l);
      mp += at::dot(x[x.size(0) - 1], v).item<double>() / pos.size();
    }
    for (const auto& p : neg) {
      at::Tensor x = direct(*m, p, SiteKind::kResidPost, l);
      mn += at::dot(x[x.size(0) - 1], v).item<double>() / neg.size();
    }
    EXPECT_GT(mp, mn) << "layer " << l;
  }
  EXPECT_THROW(extract_pca(*m, pos, raw(*m, kNeg), o), Error);  // 3 vs 4: not paired
}

TEST(Extract, Normalization) {
  DirectionMeta meta;
  DirectionSet a(meta, {{0, at::tensor({3.f, 4.f})}, {1, at::tensor({0.f, 1.f})}});
  DirectionSet b(meta, {{0, at::tensor({0.f, 15.f})}, {1, at::tensor({3.f, 0.f})}});
  DirectionSet u = apply_normalize(a, Normalize::kUnit);
  EXPECT_NEAR(u.at_layer(0).norm().item<float>(), 1.f, 1e-6);
  EXPECT_EQ(u.meta().extra["normalize"], "unit");
  EXPECT_TRUE(at::equal(apply_normalize(a, Normalize::kNone).at_layer(0), a.at_layer(0)));
  auto r = rescale_to_mean_norm({a, b});
  // layer 0: norms 5 and 15 → both 10; layer 1: 1 and 3 → both 2; directions kept.
  EXPECT_NEAR(r[0].at_layer(0).norm().item<float>(), 10.f, 1e-5);
  EXPECT_NEAR(r[1].at_layer(0).norm().item<float>(), 10.f, 1e-5);
  EXPECT_NEAR(r[0].at_layer(1)[1].item<float>(), 2.f, 1e-6);
  EXPECT_NEAR(r[1].at_layer(1)[0].item<float>(), 2.f, 1e-6);
  EXPECT_NEAR(r[0].at_layer(0)[0].item<float>(), 6.f, 1e-5);
  EXPECT_EQ(r[0].meta().extra["normalize"], "mean-norm");
  DirectionSet c(meta, {{0, at::tensor({1.f, 0.f})}});
  EXPECT_THROW(rescale_to_mean_norm({a, c}), Error);
  EXPECT_EQ(parse_normalize("unit"), Normalize::kUnit);
  EXPECT_THROW(parse_normalize("l2"), Error);
}

}  // namespace
}  // namespace steer
