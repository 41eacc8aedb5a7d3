// Interventions on the default model (SmolLM2-135M-Instruct, 30 layers, d_model 576) with real
// chat prompts: the properties of tests/unit/engine/test_interventions.cc at full size, where
// the residual stream has large outlier dimensions, plus the CAA position rule on the model's own
// chat template and a control vector that goes through a llama.cpp .gguf file.
//
// Tolerances (fp32): a projection that should be 0 is ≤ 1e-6·‖x‖ (over 576 terms one rounding
// per element gives ~1e-7·‖x‖); an added vector shows up as Δx = c·v within 1e-6·(|x|max +
// |c·v|max) per element. bf16: |x·r̂| ≤ 2⁻⁸·‖x‖ after ablation (one bf16 rounding per element
// bounds it by 2⁻⁹·‖x‖). Unchanged things are compared bitwise.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "steer/directions.h"
#include "steer/generate.h"
#include "steer/interventions.h"
#include "steer/model.h"
#include "test_paths.h"

namespace steer {
namespace {

std::shared_ptr<Model> smollm2(DType dtype) {
  static std::map<DType, std::shared_ptr<Model>> cache;
  auto& m = cache[dtype];
  if (!m) {
    std::string path = test::default_model("smollm2-135m");
    if (path.empty()) return nullptr;
    LoadOptions o;
    o.dtype = dtype;
    o.progress = false;
    m = Model::load(path, o);
  }
  return m;
}

at::Tensor random_vector(int64_t d, uint64_t seed, double scale = 1.0) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({d}, gen, at::kFloat) * scale;
}

const std::vector<std::string> kQuestions = {"Give me three tips for staying healthy.",
                                             "What is the capital of France?", "Write a haiku about rain."};

std::vector<EncodedPrompt> chat_prompts(const Model& m) {
  std::vector<EncodedPrompt> out;
  for (const auto& q : kQuestions) out.push_back(encode_chat_prompt(m, q));
  return out;
}

struct Pass {
  at::Tensor logits;                        // [batch, seq, vocab]
  std::map<std::pair<SiteKind, int>, at::Tensor> acts;
  at::Tensor real;                          // [batch, seq] bool: not padding
  std::shared_ptr<BatchState> state;
};

// A prefill of the prompts through `hooks`, capturing `kinds` at every layer after the hooks
// already attached.
Pass prefill(const Model& m, const std::vector<EncodedPrompt>& prompts, HookSet& hooks,
             const std::vector<SiteKind>& kinds) {
  Pass p;
  p.state = std::make_shared<BatchState>();
  std::vector<std::vector<int32_t>> ids;
  std::vector<int64_t> ends;
  for (const auto& e : prompts) ids.push_back(e.ids), ends.push_back(e.instruction_end);
  at::Tensor tokens = make_batch(ids, m.pad_id(), *p.state, ends);
  std::vector<ScopedHook> captures;
  for (SiteKind k : kinds)
    for (int l = 0; l < m.config().n_layers; ++l)
      captures.emplace_back(hooks, Site{k, l},
                            [&p, k, l](at::Tensor& x, const HookContext&) { p.acts[{k, l}] = x.to(at::kFloat).clone(); });
  p.logits = m.forward(tokens, *p.state, {&hooks, LogitsMode::kAll});
  p.real = slot_positions(BatchState{p.state->batch, p.state->pad, {}, {}, 0}, tokens.size(1)) >= 0;
  return p;
}

at::Tensor relative_projection(const at::Tensor& x, const at::Tensor& r) {
  at::Tensor xd = x.to(at::kDouble), rd = r.to(at::kDouble);
  rd = rd / rd.norm();
  return at::matmul(xd, rd).abs() / xd.norm(2, -1).clamp_min(1e-30);
}

TEST(InterventionsSmolLM2, AblationAtEveryLayerAndPosition) {
  auto m = smollm2(DType::kFloat32);
  ASSERT_TRUE(m);
  const int L = m->config().n_layers;
  auto prompts = chat_prompts(*m);
  at::Tensor r = random_vector(m->config().d_model, 1);
  const std::vector<SiteKind> kinds = {SiteKind::kResidPre, SiteKind::kResidMid, SiteKind::kResidPost};
  HookSet hooks(L);
  Pass base = prefill(*m, prompts, hooks, kinds);
  Steering s;
  s.ablate(r);
  auto scope = s.attach(hooks, *m);
  Pass abl = prefill(*m, prompts, hooks, kinds);
  double worst = 0;
  for (SiteKind k : kinds)
    for (int l = 0; l < L; ++l) {
      double w = relative_projection(abl.acts[{k, l}], r).masked_select(abl.real).max().item<double>();
      EXPECT_LE(w, 1e-6) << site_name({k, l});
      worst = std::max(worst, w);
    }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", worst);
  RecordProperty("worst_relative_projection", buf);
  double before = relative_projection(base.acts[{SiteKind::kResidPost, L / 2}], r).masked_select(base.real).max().item<double>();
  EXPECT_GT(before, 1e-3) << "the direction was not there to begin with";
}

TEST(InterventionsSmolLM2, AddAfterInstructionMovesExactlyTheTemplateTailAndGeneration) {
  auto m = smollm2(DType::kFloat32);
  ASSERT_TRUE(m);
  const int layer = 10;
  const float coef = 4.f;
  auto prompts = chat_prompts(*m);
  for (const auto& p : prompts) {
    ASSERT_LT(p.instruction_end, int64_t(p.ids.size())) << "the chat template has a post-instruction tail";
    ASSERT_GT(p.instruction_end, 0);
  }
  // A control vector through llama.cpp's format: direction.10 is added to the output of block 10.
  DirectionMeta meta;
  meta.site = SiteKind::kResidPost;
  meta.d_model = m->config().d_model;
  meta.n_layers = m->config().n_layers;
  meta.model = "SmolLM2";
  at::Tensor v = random_vector(m->config().d_model, 2, 0.5);
  std::string file = (std::filesystem::temp_directory_path() / ("steer-iv-" + std::to_string(::getpid()) + ".gguf")).string();
  save_directions(DirectionSet(meta, {{layer, v}}), file);
  DirectionSet loaded = load_directions(file);
  std::filesystem::remove(file);

  HookSet hooks(m->config().n_layers);
  Pass base = prefill(*m, prompts, hooks, {SiteKind::kResidPost});
  Pass steered;
  {
    Steering s;
    s.add(loaded, coef, {}, PositionSelector::after_instruction());
    auto scope = s.attach(hooks, *m);
    EXPECT_EQ(scope.hook_count(), 1u);
    steered = prefill(*m, prompts, hooks, {SiteKind::kResidPost});
  }
  // Expected: the slots from each row's instruction end to the end of its prompt.
  const int64_t T = base.logits.size(1);
  at::Tensor want = at::zeros({int64_t(prompts.size()), T}, at::kBool);
  for (size_t b = 0; b < prompts.size(); ++b) {
    int64_t pad = T - int64_t(prompts[b].ids.size());
    want[b].narrow(0, pad + prompts[b].instruction_end, T - pad - prompts[b].instruction_end).fill_(true);
  }
  at::Tensor x0 = base.acts[{SiteKind::kResidPost, layer}], x1 = steered.acts[{SiteKind::kResidPost, layer}];
  at::Tensor delta = x1 - x0;
  at::Tensor cv = (coef * v).expand_as(delta);
  at::Tensor w3 = want.unsqueeze(-1).expand_as(delta);
  double tol = 1e-6 * (x0.abs().max().item<double>() + cv.abs().max().item<double>());
  EXPECT_LE((delta - cv).masked_select(w3).abs().max().item<double>(), tol);
  EXPECT_TRUE(at::equal(x1.masked_select(w3.logical_not()), x0.masked_select(w3.logical_not())));
  for (int l = 0; l < layer; ++l)
    EXPECT_TRUE(at::equal(base.acts[{SiteKind::kResidPost, l}], steered.acts[{SiteKind::kResidPost, l}]));
}

TEST(InterventionsSmolLM2, GeneratedOnlyKeepsPromptLogitsAndChangesTheReply) {
  auto m = smollm2(DType::kFloat32);
  ASSERT_TRUE(m);
  auto prompts = chat_prompts(*m);
  HookSet hooks(m->config().n_layers);
  Pass base = prefill(*m, prompts, hooks, {});
  Steering s;
  s.add(random_vector(m->config().d_model, 3), 8.f, {8, 9, 10}, PositionSelector::generated());
  GenerateOptions opt;
  opt.max_new_tokens = 12;
  auto plain = generate(*m, prompts, opt, &hooks);
  std::vector<Generation> steered;
  {
    auto scope = s.attach(hooks, *m);
    Pass p = prefill(*m, prompts, hooks, {});
    EXPECT_TRUE(at::equal(p.logits, base.logits)) << "generated-only steering changed the prompt's logits";
    steered = generate(*m, prompts, opt, &hooks);
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_FALSE(plain[i].ids.empty());
    EXPECT_EQ(plain[i].ids[0], steered[i].ids[0]) << kQuestions[i];
    EXPECT_NE(plain[i].ids, steered[i].ids) << kQuestions[i];
  }
  // Scope gone: the same greedy replies again.
  auto again = generate(*m, prompts, opt, &hooks);
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(again[i].ids, plain[i].ids);
}

TEST(InterventionsSmolLM2, PerRowSteeringInOneBatch) {
  auto m = smollm2(DType::kFloat32);
  ASSERT_TRUE(m);
  auto prompts = chat_prompts(*m);
  HookSet hooks(m->config().n_layers);
  Pass base = prefill(*m, prompts, hooks, {});
  Steering s;
  s.ablate(random_vector(m->config().d_model, 4)).add(random_vector(m->config().d_model, 5), 6.f, {12}).for_rows({2});
  auto scope = s.attach(hooks, *m);
  Pass p = prefill(*m, prompts, hooks, {});
  EXPECT_TRUE(at::equal(p.logits[0], base.logits[0]));
  EXPECT_TRUE(at::equal(p.logits[1], base.logits[1]));
  EXPECT_FALSE(at::equal(p.logits[2], base.logits[2]));
}

TEST(InterventionsSmolLM2, Bf16AblationAndAdditionStayFinite) {
  auto m = smollm2(DType::kBFloat16);
  ASSERT_TRUE(m);
  auto prompts = chat_prompts(*m);
  at::Tensor r = random_vector(m->config().d_model, 6);
  HookSet hooks(m->config().n_layers);
  Steering s;
  s.ablate(r).add(random_vector(m->config().d_model, 7), 2.f, {10}, PositionSelector::after_instruction());
  auto scope = s.attach(hooks, *m);
  Pass p = prefill(*m, prompts, hooks, {SiteKind::kResidPre});
  EXPECT_TRUE(at::isfinite(p.logits).all().item<bool>());
  for (int l = 0; l < m->config().n_layers; ++l)
    EXPECT_LE(relative_projection(p.acts[{SiteKind::kResidPre, l}], r).masked_select(p.real).max().item<double>(),
              1.0 / 256)
        << "layer " << l;
  GenerateOptions opt;
  opt.max_new_tokens = 8;
  auto out = generate(*m, prompts, opt, &hooks);
  for (const auto& g : out) EXPECT_FALSE(g.ids.empty());
}

}  // namespace
}  // namespace steer
