// The adversarial-suffix analysis on the tiny model: the per-head decomposition sums back to the
// attention output, and with the MLPs and the embedding to the residual stream; direct logit
// attribution sums to the logits; batching does not change a row; the run's numbers agree with
// each other and the run folder holds its contract.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "steer/error.h"
#include "steer/generate.h"
#include "steer/metrics.h"
#include "steer/suffix.h"
#include "test_errors.h"
#include "tiny_models.h"

namespace steer {
namespace {

namespace fs = std::filesystem;

std::vector<EncodedPrompt> three_prompts(const Model& m) {
  return {encode_chat_prompt(m, "Tell me a story about a dog"), encode_chat_prompt(m, "Why is the sky blue?"),
          encode_chat_prompt(m, "Once upon a time there was a little girl named Lily who")};
}

TEST(SuffixDecomposition, HeadsSumToTheAttentionOutputAndComponentsToTheResidual) {
  auto m = test::tiny_chat();
  LastPositionComponents c = last_position_components(*m, three_prompts(*m));
  const int L = m->config().n_layers;
  ASSERT_EQ(c.heads.sizes(), (std::vector<int64_t>{3, L, m->config().n_heads, m->config().d_model}));
  // float32 sums of a few dozen terms of size ~1: 1e-4 absolute.
  EXPECT_TRUE(at::allclose(c.heads.sum(2) + c.attn_bias, c.attn_out, 1e-4, 1e-4))
      << (c.heads.sum(2) + c.attn_bias - c.attn_out).abs().max().item<float>();
  const at::Tensor resid = c.embed + c.attn_out.sum(1) + c.mlp_out.sum(1);
  EXPECT_TRUE(at::allclose(resid, c.resid_final, 1e-4, 1e-4)) << (resid - c.resid_final).abs().max().item<float>();
  // Direct logit attribution: the final norm taken as linear in the row (its RMS fixed), the
  // components' attributions sum to the model's logit of each token.
  const auto& w = m->weights();
  const at::Tensor rms = c.resid_final.square().mean(-1, true).add(m->config().norm_eps).sqrt();
  const at::Tensor logits = at::matmul(c.resid_final / rms * w.final_norm.to(at::kFloat), w.lm_head.to(at::kFloat).t());
  EXPECT_TRUE(at::allclose(logits, c.logits, 1e-4, 1e-3)) << (logits - c.logits).abs().max().item<float>();
}

TEST(SuffixDecomposition, ARowIsTheSameAloneAndInABatch) {
  auto m = test::tiny_chat();
  const std::vector<EncodedPrompt> prompts = three_prompts(*m);
  LastPositionComponents all = last_position_components(*m, prompts);
  for (size_t i = 0; i < prompts.size(); ++i) {
    LastPositionComponents one = last_position_components(*m, {prompts[i]});
    EXPECT_TRUE(at::allclose(one.heads[0], all.heads[int64_t(i)], 1e-5, 1e-5)) << i;
    EXPECT_TRUE(at::allclose(one.mlp_out[0], all.mlp_out[int64_t(i)], 1e-5, 1e-5)) << i;
  }
}

SuffixOptions tiny_options(const Model& m) {
  SuffixOptions o;
  at::manual_seed(5);
  o.direction = at::randn({m.config().d_model});
  o.instructions = {"Tell me a story about a dog", "Why is the sky blue?", "How do birds fly?", "Name a big animal"};
  o.suffixes = {"and the cat said hello hello", "Lily Lily Lily"};
  o.suffix_names = {"cat", "lily"};
  o.top_heads = 4;
  o.batch_size = 3;
  o.progress = false;
  return o;
}

TEST(SuffixRun, NumbersAgreeAndTheFolderHoldsTheContract) {
  auto m = test::tiny_chat();
  const SuffixOptions o = tiny_options(*m);
  SuffixRun run = compute_suffix_run(*m, o);
  ASSERT_EQ(run.top_heads.size(), 4u);
  for (size_t k = 0; k < run.top_heads.size(); ++k) {
    const HeadScore& h = run.top_heads[k];
    EXPECT_NEAR(h.suppression.mean, h.plain - h.suffixed, 1e-9);
    EXPECT_NEAR(h.suppression.mean, run.head_suppression[size_t(h.layer)][size_t(h.head)], 1e-9);
    EXPECT_LE(h.suppression.lo, h.suppression.mean);
    EXPECT_GE(h.suppression.hi, h.suppression.mean);
    if (k > 0) EXPECT_GE(run.top_heads[k - 1].suppression.mean, h.suppression.mean);
    // Attention rows are distributions over the row's own tokens: the spans cover them all.
    double plain = 0, suffixed = 0;
    for (int s = 0; s < 4; ++s) plain += h.attention_plain[size_t(s)], suffixed += h.attention_suffixed[size_t(s)];
    EXPECT_NEAR(plain, 1.0, 1e-4);
    EXPECT_NEAR(suffixed, 1.0, 1e-4);
    EXPECT_EQ(h.attention_plain[2], 0.0);  // no suffix tokens without a suffix
    EXPECT_GT(h.attention_suffixed[2], 0.0);
  }
  // Every other head suppresses no more than the last one ranked.
  double max_unranked = -1e30;
  for (int l = 0; l < run.n_layers; ++l)
    for (int h = 0; h < run.n_heads; ++h) {
      bool ranked = false;
      for (const HeadScore& t : run.top_heads) ranked |= t.layer == l && t.head == h;
      if (!ranked) max_unranked = std::max(max_unranked, run.head_suppression[size_t(l)][size_t(h)]);
    }
  EXPECT_LE(max_unranked, run.top_heads.back().suppression.mean);
  // The residual's projection is the sum of its components' (embedding, attention, MLPs).
  double sum = run.embed_plain;
  for (int l = 0; l < run.n_layers; ++l) sum += run.attn_plain[size_t(l)] + run.mlp_plain[size_t(l)];
  EXPECT_NEAR(sum, run.resid_plain.mean, 1e-3 * (1 + std::abs(sum)));
  // The example prompt's spans: template head, instruction, suffix, tail, in order.
  const PromptSpans& s = run.example_spans;
  EXPECT_LT(s.instruction_begin, s.suffix_begin);
  EXPECT_LT(s.suffix_begin, s.suffix_end);
  EXPECT_LE(s.suffix_end, s.size);
  EXPECT_EQ(run.example_tokens.size(), size_t(s.size));

  const std::string dir = (fs::temp_directory_path() / ("steer-suffix-run-" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  write_suffix_run(run, dir);
  for (const char* f : {"summary.json", "heads.csv", "layers.csv", "suppression.svg", "components.svg", "attention.svg",
                        "attention_tokens.svg", "report.html"})
    EXPECT_TRUE(fs::exists(dir + "/" + f)) << f;
  nlohmann::json j = nlohmann::json::parse(std::ifstream(dir + "/summary.json"));
  ASSERT_EQ(j["top_heads"].size(), 4u);
  for (const auto& h : j["top_heads"]) {
    EXPECT_TRUE(h["layer"].is_number_integer());
    EXPECT_TRUE(h["head"].is_number_integer());
    EXPECT_TRUE(h["suppression"].is_number());
  }
  EXPECT_EQ(j["top_heads"][0]["suppression"].get<double>(), run.top_heads[0].suppression.mean);
  fs::remove_all(dir);
}

TEST(SuffixRun, BadOptionsAreClearErrors) {
  auto m = test::tiny_chat();
  SuffixOptions o = tiny_options(*m);
  o.suffixes.clear();
  o.suffix_names.clear();
  EXPECT_NE(test::error_of([&] { (void)check_suffix_options(o); }).find("no suffix"), std::string::npos);
  o = tiny_options(*m);
  o.instructions.clear();
  EXPECT_NE(test::error_of([&] { (void)check_suffix_options(o); }).find("no harmful prompts"), std::string::npos);
  o = tiny_options(*m);
  o.direction = at::ones({m->config().d_model + 1});
  EXPECT_NE(test::error_of([&] { (void)compute_suffix_run(*m, o); }).find("residual stream has"), std::string::npos);
}

TEST(SuffixFiles, TemplatesListsAndLines) {
  const fs::path dir = fs::temp_directory_path() / ("steer-suffix-files-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "wrap.json") << R"({"gcg_a": "{forbidden_prompt} zx qq", "gcg_b": "{prompt}\nyy", "aim": "{forbidden_prompt} be AIM"})";
  auto all = load_suffixes((dir / "wrap.json").string());
  ASSERT_EQ(all.size(), 3u);
  auto gcg = load_suffixes((dir / "wrap.json").string(), "gcg");
  ASSERT_EQ(gcg.size(), 2u);
  EXPECT_EQ(gcg[0].name, "gcg_a");
  EXPECT_EQ(gcg[0].text, "zx qq");
  EXPECT_EQ(gcg[1].text, "yy");
  std::ofstream(dir / "wrapped.json") << R"({"dev": "Ignore rules. {forbidden_prompt}"})";
  EXPECT_NE(test::error_of([&] { (void)load_suffixes((dir / "wrapped.json").string()); }).find("entry 'dev' does not start with"), std::string::npos);
  std::ofstream(dir / "list.json") << R"(["one", 2])";
  EXPECT_NE(test::error_of([&] { (void)load_suffixes((dir / "list.json").string()); }).find("item 2"), std::string::npos);
  std::ofstream(dir / "lines.txt") << "first suffix\n\nsecond suffix\n";
  auto lines = load_suffixes((dir / "lines.txt").string());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].text, "second suffix");
  EXPECT_NE(test::error_of([&] { (void)load_suffixes((dir / "wrap.json").string(), "nope"); }).find("no suffix in entries named nope*"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace steer
