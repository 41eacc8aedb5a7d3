// Interventions on the real tiny model (stories260K, llama arch, 5 layers, d_model 64, fp32):
// each does to the residual stream exactly what include/steer/interventions.h says, only where
// it says, and leaves no trace when its scope ends.
//
// Tolerances (fp32): a projection that should be 0 is ≤ 1e-6·‖x‖ (one rounding per element of
// x − (x·r̂)r̂ over d_model = 64 terms is ~1e-7·‖x‖; the bound leaves room for the sum of two
// ablated tensors at resid_mid/resid_post); an added vector shows up as Δx = c·v within
// 1e-6·(|x|max + |c·v|max) per element (one rounding of x + c·v). Everything that must not change
// is compared bitwise.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <map>

#include "steer/error.h"
#include "steer/directions.h"
#include "steer/generate.h"
#include "steer/interventions.h"
#include "steer/model.h"
#include "steer/tokenizer.h"
#include "steering/selection.h"
#include "test_paths.h"

namespace steer {
namespace {

std::shared_ptr<Model> tiny(DType dtype = DType::kFloat32) {
  static std::map<DType, std::shared_ptr<Model>> cache;
  auto& m = cache[dtype];
  if (!m) {
    LoadOptions o;
    o.dtype = dtype;
    o.progress = false;
    m = Model::load(test::tiny_model(), o);
  }
  return m;
}

// A fixed random vector [d_model] (float32).
at::Tensor random_vector(int64_t d, uint64_t seed, double scale = 1.0) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({d}, gen, at::kFloat) * scale;
}

// Three prompts of different lengths (rows 1 and 2 are left-padded), with instruction ends
// inside each prompt so after-instruction differs from all and from generated.
struct Batch {
  std::vector<std::vector<int32_t>> ids;
  std::vector<int64_t> instruction_ends;
};
Batch test_batch(const Model& m) {
  Batch b;
  for (const char* t : {"Once upon a time there was a little girl", "The dog ran to the park", "Lily went home"})
    b.ids.push_back(m.tokenizer().encode(t, true));
  for (const auto& p : b.ids) b.instruction_ends.push_back(std::max<int64_t>(1, int64_t(p.size()) - 2));
  return b;
}

using SiteKey = std::pair<SiteKind, int>;

// One prefill of the batch through `hooks`, capturing the listed sites (attached after whatever
// `hooks` already holds, so they see the activations after the interventions).
struct Pass {
  at::Tensor logits;  // [batch, seq, vocab]
  std::map<SiteKey, at::Tensor> acts;
  BatchState state;
};
Pass run(const Model& m, const Batch& b, HookSet& hooks, const std::vector<SiteKind>& kinds = {}) {
  Pass r;
  std::vector<ScopedHook> captures;
  for (SiteKind k : kinds)
    for (int l = 0; l < m.config().n_layers; ++l)
      captures.emplace_back(hooks, Site{k, l},
                            [&r, k, l](at::Tensor& x, const HookContext&) { r.acts[{k, l}] = x.clone(); });
  at::Tensor tokens = make_batch(b.ids, m.pad_id(), r.state, b.instruction_ends);
  r.logits = m.forward(tokens, r.state, {&hooks, LogitsMode::kAll});
  return r;
}

// The HookContext a prefill of `st` ran with (st is the state after the forward).
HookContext prefill_context(const BatchState& st, int64_t seq) {
  static thread_local BatchState fresh;
  fresh = st;
  fresh.length = 0;
  return HookContext{Site{}, &fresh, slot_positions(fresh, seq), true};
}

// [batch, seq] bool: real (non-padding) slots of a prefill.
at::Tensor real_mask(const BatchState& st, int64_t seq) { return prefill_context(st, seq).positions >= 0; }

// |x·r̂| / ‖x‖ per token [batch, seq], in float64.
at::Tensor relative_projection(const at::Tensor& x, const at::Tensor& r) {
  at::Tensor xd = x.to(at::kDouble), rd = r.to(at::kDouble);
  rd = rd / rd.norm();
  return at::matmul(xd, rd).abs() / xd.norm(2, -1).clamp_min(1e-30);
}

TEST(Interventions, AblationRemovesTheDirectionEverywhere) {
  auto m = tiny();
  const int L = m->config().n_layers;
  Batch b = test_batch(*m);
  at::Tensor r = random_vector(m->config().d_model, 1, 3.0);
  const std::vector<SiteKind> kinds = {SiteKind::kResidPre, SiteKind::kResidMid, SiteKind::kResidPost};

  HookSet hooks(L);
  Pass base = run(*m, b, hooks, kinds);
  Steering s;
  s.ablate(r);
  auto scope = s.attach(hooks, *m);
  EXPECT_EQ(scope.hook_count(), size_t(3 * L));
  Pass abl = run(*m, b, hooks, kinds);

  at::Tensor real = real_mask(abl.state, abl.logits.size(1));
  for (SiteKind k : kinds) {
    for (int l = 0; l < L; ++l) {
      at::Tensor proj = relative_projection(abl.acts[{k, l}], r);
      double worst = proj.masked_select(real).max().item<double>();
      EXPECT_LE(worst, 1e-6) << site_name({k, l});
      // The test can fail: without ablation the direction is plainly there.
      EXPECT_GT(relative_projection(base.acts[{k, l}], r).masked_select(real).max().item<double>(), 1e-2);
      // Padding slots are never changed.
      at::Tensor pad = real.logical_not().unsqueeze(-1).expand_as(abl.acts[{k, l}]);
      EXPECT_TRUE(at::equal(abl.acts[{k, l}].masked_select(pad), base.acts[{k, l}].masked_select(pad)))
          << site_name({k, l});
    }
  }
  EXPECT_FALSE(at::equal(abl.logits, base.logits));
  // Only the component along r̂ goes: at the first site (resid_pre of block 0, nothing upstream
  // changed) the result is exactly x − (x·r̂)r̂, to one fp32 rounding.
  at::Tensor x0 = base.acts[{SiteKind::kResidPre, 0}].to(at::kDouble);
  at::Tensor rhat = r.to(at::kDouble) / r.to(at::kDouble).norm();
  at::Tensor expect = x0 - at::matmul(x0, rhat).unsqueeze(-1) * rhat;
  at::Tensor got = abl.acts[{SiteKind::kResidPre, 0}].to(at::kDouble);
  at::Tensor r3 = real.unsqueeze(-1).expand_as(got);
  EXPECT_LE((got - expect).masked_select(r3).abs().max().item<double>(), 1e-6 * x0.abs().max().item<double>());
}

TEST(Interventions, SubspaceAblationIsOrthogonalToEveryDirection) {
  auto m = tiny();
  const int64_t d = m->config().d_model;
  // Three non-orthogonal directions: the second and third share a component with the first.
  at::Tensor a = random_vector(d, 2), b2 = random_vector(d, 3) + 0.8 * a, c = random_vector(d, 4) - 0.5 * b2;
  at::Tensor dirs = at::stack({a, b2, c});  // [3, d]

  at::Tensor q = orthonormal_basis(dirs);  // [3, d]
  ASSERT_EQ(q.sizes(), dirs.sizes());
  EXPECT_TRUE(at::allclose(at::mm(q, q.t()), at::eye(3), 1e-6, 1e-6)) << "rows not orthonormal";
  // Same span: every direction is reproduced by its projection on the basis.
  at::Tensor back = at::mm(at::mm(dirs, q.t()), q);
  EXPECT_TRUE(at::allclose(back, dirs, 1e-5, 1e-5));
  EXPECT_GT(at::dot(q[0], a).item<float>(), 0.f) << "row 0 should point along direction 0";

  HookSet hooks(m->config().n_layers);
  Steering s;
  s.ablate(dirs);
  auto scope = s.attach(hooks, *m);
  Batch batch = test_batch(*m);
  Pass abl = run(*m, batch, hooks, {SiteKind::kResidPost, SiteKind::kResidMid});
  at::Tensor real = real_mask(abl.state, abl.logits.size(1));
  for (const auto& [key, x] : abl.acts)
    for (int i = 0; i < 3; ++i)
      EXPECT_LE(relative_projection(x, dirs[i]).masked_select(real).max().item<double>(), 1e-6)
          << site_name({key.first, key.second}) << " direction " << i;
}

TEST(Interventions, SubspaceRefusesDependentDirections) {
  at::Tensor a = random_vector(16, 5), b = random_vector(16, 6);
  at::Tensor dependent = at::stack({a, b, 2 * a - 3 * b});
  try {
    make_ablation(dependent, {}, "dirs");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("direction 2 lies in the span"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_ablation(at::zeros({16})), Error);
  EXPECT_THROW(orthonormal_basis(at::randn({17, 16})), Error);
}

TEST(Interventions, AddMovesResidPostByExactlyCVAtSelectedPositions) {
  auto m = tiny();
  const int L = m->config().n_layers, layer = 2;
  const float coef = 2.5f;
  Batch b = test_batch(*m);
  at::Tensor v = random_vector(m->config().d_model, 7);
  HookSet hooks(L);
  Pass base = run(*m, b, hooks, {SiteKind::kResidPost});
  const int64_t T = base.logits.size(1);

  for (const char* sel_text : {"all", "prompt", "after-instruction", "-2,-1", "0"}) {
    SCOPED_TRACE(sel_text);
    PositionSelector sel = PositionSelector::parse(sel_text);
    Pass steered;
    {
      Steering s;
      s.add(v, coef, {layer}, sel);
      auto scope = s.attach(hooks, *m);
      steered = run(*m, b, hooks, {SiteKind::kResidPost});
    }
    // Which slots should move: the selector over real tokens, as HookContext::mask says.
    at::Tensor expect_moved = prefill_context(base.state, T).mask(sel);  // [B, T]
    ASSERT_GT(expect_moved.sum().item<int64_t>(), 0);

    for (int l = 0; l < L; ++l) {
      at::Tensor x0 = base.acts[{SiteKind::kResidPost, l}], x1 = steered.acts[{SiteKind::kResidPost, l}];
      if (l < layer) {
        EXPECT_TRUE(at::equal(x0, x1)) << "layer " << l << " is before the intervention";
        continue;
      }
      if (l > layer) continue;  // later layers change through the network; nothing exact to say
      at::Tensor delta = x1 - x0;  // [B, T, d]
      at::Tensor cv = (coef * v).expand_as(delta);
      double tol = 1e-6 * (x0.abs().max().item<double>() + cv.abs().max().item<double>());
      at::Tensor sel3 = expect_moved.unsqueeze(-1).expand_as(delta);
      EXPECT_LE((delta - cv).masked_select(sel3).abs().max().item<double>(), tol);
      // Everything else, padding included, bit-identical.
      EXPECT_TRUE(at::equal(x1.masked_select(sel3.logical_not()), x0.masked_select(sel3.logical_not())));
    }
    // Positions before the first selected one (causal) keep their logits exactly.
    at::Tensor untouched = (expect_moved.to(at::kInt).cumsum(1) == 0) & real_mask(base.state, T);
    at::Tensor u3 = untouched.unsqueeze(-1).expand_as(base.logits);
    EXPECT_TRUE(at::equal(steered.logits.masked_select(u3), base.logits.masked_select(u3)));
  }
}

TEST(Interventions, AddFromDirectionSetUsesItsSiteAndLayers) {
  auto m = tiny();
  const int64_t d = m->config().d_model;
  DirectionMeta meta;
  meta.site = SiteKind::kResidPre;
  meta.d_model = int(d);
  DirectionSet set(meta, {{1, random_vector(d, 8)}, {3, random_vector(d, 9)}});
  Intervention iv = make_add(set, -1.5f, {}, PositionSelector::all(), "set.safetensors");
  EXPECT_EQ(iv.site, SiteKind::kResidPre);
  ASSERT_EQ(iv.vectors.size(), 2u);
  EXPECT_NE(iv.describe().find("hook_resid_pre of layers 1,3"), std::string::npos) << iv.describe();

  HookSet hooks(m->config().n_layers);
  Batch b = test_batch(*m);
  Pass base = run(*m, b, hooks, {SiteKind::kResidPre});
  Pass steered;
  {
    Steering s;
    s.then(make_add(set, -1.5f, {3}, PositionSelector::all()));  // a subset: layer 3 only
    auto scope = s.attach(hooks, *m);
    EXPECT_EQ(scope.hook_count(), 1u);
    steered = run(*m, b, hooks, {SiteKind::kResidPre});
  }
  for (int l = 0; l <= 2; ++l)
    EXPECT_TRUE(at::equal(base.acts[{SiteKind::kResidPre, l}], steered.acts[{SiteKind::kResidPre, l}]));
  at::Tensor delta = steered.acts[{SiteKind::kResidPre, 3}] - base.acts[{SiteKind::kResidPre, 3}];
  at::Tensor real = real_mask(base.state, base.logits.size(1));
  at::Tensor expect = (-1.5f * set.at_layer(3)).expand_as(delta);
  at::Tensor r3 = real.unsqueeze(-1).expand_as(delta);
  EXPECT_LE((delta - expect).masked_select(r3).abs().max().item<double>(), 1e-5);
  EXPECT_THROW(make_add(set, 1.f, {2}, PositionSelector::all()), Error);  // the set has no layer 2
  // A single-vector set serves any layer.
  DirectionSet one = set.only_layers({3});
  Intervention moved = make_add(one, 1.f, {0, 4}, PositionSelector::all(), "one.gguf");
  ASSERT_EQ(moved.vectors.size(), 2u);
  EXPECT_TRUE(at::equal(moved.vectors.at(0), set.at_layer(3)));
  EXPECT_TRUE(at::equal(moved.vectors.at(4), set.at_layer(3)));
  EXPECT_NE(moved.describe().find("layer-3 vector"), std::string::npos) << moved.describe();
}

TEST(Interventions, GeneratedOnlyLeavesThePromptAndChangesTheContinuation) {
  auto m = tiny();
  HookSet hooks(m->config().n_layers);
  Batch b = test_batch(*m);
  Pass base = run(*m, b, hooks);
  at::Tensor v = random_vector(m->config().d_model, 10, 4.0);
  Steering s;
  s.add(v, 3.f, {1, 2}, PositionSelector::generated());
  {
    auto scope = s.attach(hooks, *m);
    Pass steered = run(*m, b, hooks);
    EXPECT_TRUE(at::equal(steered.logits, base.logits)) << "the prompt's logits changed";
  }
  GenerateOptions opt;
  opt.max_new_tokens = 16;
  opt.stop_at_eos = false;
  std::vector<EncodedPrompt> prompts;
  for (size_t i = 0; i < b.ids.size(); ++i) prompts.push_back({b.ids[i], b.instruction_ends[i]});
  auto plain = generate(*m, prompts, opt, &hooks);
  std::vector<Generation> steered;
  {
    auto scope = s.attach(hooks, *m);
    steered = generate(*m, prompts, opt, &hooks);
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    // The first token comes from the prompt's logits: the same. Later ones see the vector.
    ASSERT_FALSE(plain[i].ids.empty());
    EXPECT_EQ(plain[i].ids[0], steered[i].ids[0]) << "row " << i;
    EXPECT_NE(plain[i].ids, steered[i].ids) << "row " << i;
  }
}

TEST(Interventions, ClampSetsTheProjection) {
  auto m = tiny();
  const int layer = 3;
  const float value = -2.25f;
  HookSet hooks(m->config().n_layers);
  Batch b = test_batch(*m);
  at::Tensor r = random_vector(m->config().d_model, 11, 0.3);
  Pass base = run(*m, b, hooks, {SiteKind::kResidMid});
  Steering s;
  s.clamp(r, value, {layer}, PositionSelector::parse("-3,-2,-1"), SiteKind::kResidMid);
  auto scope = s.attach(hooks, *m);
  Pass clamped = run(*m, b, hooks, {SiteKind::kResidMid});
  at::Tensor x = clamped.acts[{SiteKind::kResidMid, layer}], x0 = base.acts[{SiteKind::kResidMid, layer}];
  at::Tensor rhat = r.to(at::kDouble) / r.to(at::kDouble).norm();
  at::Tensor proj = at::matmul(x.to(at::kDouble), rhat);  // [B, T]
  const int64_t T = x.size(1);
  for (int64_t row = 0; row < x.size(0); ++row) {
    for (int64_t t = T - 3; t < T; ++t) {
      double bound = 1e-6 * x[row][t].norm().item<double>();
      EXPECT_NEAR(proj[row][t].item<double>(), value, bound) << "row " << row << " slot " << t;
    }
    // The component orthogonal to r̂ is kept.
    at::Tensor xo = x[row][T - 1].to(at::kDouble), bo = x0[row][T - 1].to(at::kDouble);
    at::Tensor diff = (xo - at::dot(xo, rhat) * rhat) - (bo - at::dot(bo, rhat) * rhat);
    EXPECT_LE(diff.abs().max().item<double>(), 1e-5 * bo.norm().item<double>());
  }
  at::Tensor early = x.narrow(1, 0, T - 3), early0 = x0.narrow(1, 0, T - 3);
  EXPECT_TRUE(at::equal(early, early0)) << "unselected positions changed";
}

TEST(Interventions, ScopeRemovalRestoresBitIdenticalOutputs) {
  auto m = tiny();
  HookSet hooks(m->config().n_layers);
  Batch b = test_batch(*m);
  Pass base = run(*m, b, hooks);
  {
    Steering s;
    s.ablate(random_vector(m->config().d_model, 12))
        .add(random_vector(m->config().d_model, 13), 2.f, {0, 4}, PositionSelector::all())
        .clamp(random_vector(m->config().d_model, 14), 1.f, {2});
    auto scope = s.attach(hooks, *m);
    EXPECT_FALSE(hooks.empty());
    Pass steered = run(*m, b, hooks);
    EXPECT_FALSE(at::equal(steered.logits, base.logits));
  }
  EXPECT_TRUE(hooks.empty());
  Pass after = run(*m, b, hooks);
  EXPECT_TRUE(at::equal(after.logits, base.logits));

  // reset() detaches early; a moved-from scope detaches nothing twice.
  Steering s;
  s.ablate(random_vector(m->config().d_model, 15));
  SteeringScope outer;
  {
    SteeringScope inner = s.attach(hooks, *m);
    outer = std::move(inner);
  }
  EXPECT_FALSE(hooks.empty());
  outer.reset();
  EXPECT_TRUE(hooks.empty());
}

TEST(Interventions, PerRowSteeringLeavesOtherRowsBitIdentical) {
  auto m = tiny();
  const int64_t d = m->config().d_model;
  HookSet hooks(m->config().n_layers);
  Batch b = test_batch(*m);
  Pass base = run(*m, b, hooks);

  Steering s;
  s.ablate(random_vector(d, 16)).add(random_vector(d, 17), 3.f, {1, 3}, PositionSelector::all()).for_rows({1});
  EXPECT_NE(s.summary().find("rows 1"), std::string::npos) << s.summary();
  {
    auto scope = s.attach(hooks, *m);
    Pass steered = run(*m, b, hooks);
    EXPECT_TRUE(at::equal(steered.logits[0], base.logits[0]));
    EXPECT_TRUE(at::equal(steered.logits[2], base.logits[2]));
    EXPECT_FALSE(at::equal(steered.logits[1], base.logits[1]));
  }
  // Two requests with different steering in one batch: each row sees only its own.
  Steering s0, s2;
  s0.add(random_vector(d, 18), 2.f, {2}).for_rows({0});
  s2.add(random_vector(d, 19), -2.f, {2}).for_rows({2});
  GenerateOptions opt;
  opt.max_new_tokens = 12;
  opt.stop_at_eos = false;
  std::vector<EncodedPrompt> prompts;
  for (size_t i = 0; i < b.ids.size(); ++i) prompts.push_back({b.ids[i], b.instruction_ends[i]});
  auto plain = generate(*m, prompts, opt, &hooks);
  std::vector<Generation> mixed, only0, only2;
  {
    auto a0 = s0.attach(hooks, *m);
    auto a2 = s2.attach(hooks, *m);
    mixed = generate(*m, prompts, opt, &hooks);
  }
  {
    Steering one = s0;
    one.for_rows({0});
    auto a = one.attach(hooks, *m);
    only0 = generate(*m, prompts, opt, &hooks);
  }
  EXPECT_EQ(mixed[1].ids, plain[1].ids) << "the unsteered row changed";
  EXPECT_EQ(mixed[0].ids, only0[0].ids) << "row 0 saw row 2's steering";
  EXPECT_NE(mixed[0].ids, plain[0].ids);
  EXPECT_NE(mixed[2].ids, plain[2].ids);

  // Rows beyond the batch select nothing: the run is bit-identical.
  Steering absent;
  absent.ablate(random_vector(d, 20)).for_rows({7});
  auto scope = absent.attach(hooks, *m);
  Pass r = run(*m, b, hooks);
  EXPECT_TRUE(at::equal(r.logits, base.logits));
}

TEST(Interventions, CompositionRunsInTheOrderAdded) {
  auto m = tiny();
  const int layer = 2;
  const float c = 1.75f;
  HookSet hooks(m->config().n_layers);
  Batch b = test_batch(*m);
  at::Tensor r = random_vector(m->config().d_model, 21);
  at::Tensor rhat = r / r.norm();
  auto projection_at_layer = [&](const Steering& s) {
    auto scope = s.attach(hooks, *m);
    Pass x = run(*m, b, hooks, {SiteKind::kResidPre});
    at::Tensor real = real_mask(x.state, x.logits.size(1));
    return at::matmul(x.acts[{SiteKind::kResidPre, layer}].to(at::kDouble), rhat.to(at::kDouble))
        .masked_select(real);
  };
  Steering ablate_then_add, add_then_ablate;
  ablate_then_add.ablate(r).add(rhat, c, {layer}, PositionSelector::all(), SiteKind::kResidPre);
  add_then_ablate.add(rhat, c, {layer}, PositionSelector::all(), SiteKind::kResidPre).ablate(r);
  at::Tensor p1 = projection_at_layer(ablate_then_add), p2 = projection_at_layer(add_then_ablate);
  EXPECT_LE((p1 - c).abs().max().item<double>(), 1e-5) << "ablate then add: the added c·r̂ stays";
  EXPECT_LE(p2.abs().max().item<double>(), 1e-4) << "add then ablate: the ablation removes it";
}

TEST(Interventions, SelectionAgreesWithHookContextMask) {
  auto m = tiny();
  Batch b = test_batch(*m);
  HookSet hooks(m->config().n_layers);
  int checked = 0;
  const std::vector<std::string> selectors = {"all", "prompt", "generated", "after-instruction", "-3,-1", "1,7"};
  auto check = [&](at::Tensor& x, const HookContext& ctx) {
    for (const auto& text : selectors) {
      PositionSelector sel = PositionSelector::parse(text);
      for (const std::optional<std::vector<int64_t>>& rows :
           {std::optional<std::vector<int64_t>>(), std::optional<std::vector<int64_t>>({0, 2})}) {
        at::Tensor want = ctx.mask(sel);  // [B, T]
        if (rows) want.select(0, 1).fill_(false);
        Selection s = select_tokens(sel, RowFilter(rows), ctx, x);
        at::Tensor got = s.kind == Selection::Kind::kAll    ? at::ones_like(want)
                         : s.kind == Selection::Kind::kNone ? at::zeros_like(want)
                                                            : s.mask.squeeze(-1);
        EXPECT_TRUE(at::equal(got, want)) << text << (ctx.prefill ? " prefill" : " decode");
        ++checked;
      }
      // Rows all outside the batch: decided on the host, no mask made.
      Selection none = select_tokens(sel, RowFilter(std::vector<int64_t>{7, 9}), ctx, x);
      EXPECT_EQ(none.kind, Selection::Kind::kNone);
      EXPECT_FALSE(none.mask.defined());
    }
    // Decode steps of an every-position intervention need no mask either.
    if (!ctx.prefill) EXPECT_EQ(select_tokens(PositionSelector::all(), RowFilter(), ctx, x).kind, Selection::Kind::kAll);
  };
  hooks.add({SiteKind::kResidPost, 1}, check);
  GenerateOptions opt;
  opt.max_new_tokens = 3;
  opt.stop_at_eos = false;
  std::vector<EncodedPrompt> prompts;
  for (size_t i = 0; i < b.ids.size(); ++i) prompts.push_back({b.ids[i], b.instruction_ends[i]});
  generate(*m, prompts, opt, &hooks);
  EXPECT_EQ(checked, 3 * int(selectors.size()) * 2);
}

TEST(Interventions, ClearErrors) {
  auto m = tiny();
  const int64_t d = m->config().d_model;
  HookSet hooks(m->config().n_layers);
  auto message = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  DirectionMeta meta;
  meta.kind = "ablation";
  meta.d_model = int(d);
  DirectionSet abl(meta, {{2, random_vector(d, 22)}});
  std::string e1 = message([&] { make_add(abl, 1.f, {}, PositionSelector::all(), "refusal.gguf"); });
  EXPECT_NE(e1.find("refusal.gguf"), std::string::npos) << e1;
  EXPECT_NE(e1.find("ablation"), std::string::npos) << e1;

  std::string e2 = message([&] {
    Steering s;
    s.add(random_vector(100, 23), 1.f, {1});
    s.attach(hooks, *m);
  });
  EXPECT_NE(e2.find("d_model 100"), std::string::npos) << e2;
  EXPECT_NE(e2.find("d_model " + std::to_string(d)), std::string::npos) << e2;

  std::string e3 = message([&] {
    Steering s;
    s.ablate(random_vector(d, 24), {0, 9});
    s.attach(hooks, *m);
  });
  EXPECT_NE(e3.find("layer 9 is out of range"), std::string::npos) << e3;
  EXPECT_TRUE(hooks.empty()) << "a failed attach left hooks behind";

  EXPECT_THROW(make_add(random_vector(d, 25), 1.f, {1}, PositionSelector::all(), SiteKind::kAttnZ), Error);
  EXPECT_THROW(make_add(random_vector(d, 25), 1.f, {}), Error);
  EXPECT_THROW(make_add(random_vector(d, 25), 1.f, {1, 1}), Error);
  EXPECT_NO_THROW(make_add(at::zeros({d}), 1.f, {1}));  // adding zero is allowed (layer 0 of a mean-diff)
  EXPECT_THROW(make_clamp(at::zeros({d}), 1.f, {1}), Error);
  at::Tensor nan = random_vector(d, 26);
  nan[3] = NAN;
  EXPECT_THROW(make_clamp(nan, 0.f, {1}), Error);
  EXPECT_THROW(Steering().for_rows({-1}), Error);
  HookSet wrong(2);
  EXPECT_THROW(Steering().ablate(random_vector(d, 27)).attach(wrong, *m), Error);
}

TEST(Interventions, Bf16RunsAndStaysFinite) {
  auto m = tiny(DType::kBFloat16);
  ASSERT_EQ(m->weights().embed.scalar_type(), at::kBFloat16);
  const int64_t d = m->config().d_model;
  HookSet hooks(m->config().n_layers);
  Batch b = test_batch(*m);
  Pass base = run(*m, b, hooks);
  at::Tensor r = random_vector(d, 28);
  Steering s;
  s.ablate(r).add(random_vector(d, 29), 2.f, {1}, PositionSelector::after_instruction()).clamp(
      random_vector(d, 30), 0.5f, {3});
  auto scope = s.attach(hooks, *m);
  Pass steered = run(*m, b, hooks, {SiteKind::kResidPre});
  at::Tensor real = real_mask(steered.state, steered.logits.size(1));
  EXPECT_TRUE(at::isfinite(steered.logits).all().item<bool>());
  EXPECT_FALSE(at::equal(steered.logits, base.logits));
  // After one bf16 rounding per element the projection is small but not fp32-small:
  // |x·r̂| ≤ 2⁻⁸·‖x‖ (bf16 keeps 8 significant bits).
  for (int l = 0; l < m->config().n_layers; ++l)
    EXPECT_LE(relative_projection(steered.acts[{SiteKind::kResidPre, l}], r).masked_select(real).max().item<double>(),
              1.0 / 256)
        << "layer " << l;
  GenerateOptions opt;
  opt.max_new_tokens = 8;
  auto out = generate(*m, {encode_raw_prompt(*m, "Once upon a time")}, opt, &hooks);
  EXPECT_FALSE(out[0].ids.empty());
}

}  // namespace
}  // namespace steer
