// Engine properties on the real tiny model (stories260K, llama arch, F32): batching with left
// padding, the KV cache and hooks must not change what the model computes.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "steer/error.h"
#include "steer/generate.h"
#include "steer/model.h"
#include "steer/tokenizer.h"
#include "test_paths.h"
#include "tiny_models.h"

namespace steer {
namespace {

using test::tiny;
using test::tiny_chat;

double max_rel_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(1e-12, b.abs().max().item<double>());
}

const std::vector<std::string> kTexts = {"Once upon a time", "The little dog ran to the park and saw",
                                         "Lily"};

// Tolerance: fp32 with different reduction orders across batch shapes.
constexpr double kTol = 1e-5;

TEST(Forward, LeftPaddedBatchEqualsSinglePrompts) {
  auto m = tiny();
  std::vector<std::vector<int32_t>> ids;
  for (const auto& t : kTexts) ids.push_back(m->tokenizer().encode(t, true));
  BatchState batch;
  at::Tensor tokens = make_batch(ids, m->pad_id(), batch);
  at::Tensor batched = m->forward(tokens, batch);  // [3, vocab]
  for (size_t i = 0; i < ids.size(); ++i) {
    BatchState one;
    at::Tensor single = m->forward(make_batch({ids[i]}, m->pad_id(), one), one);
    EXPECT_LT(max_rel_diff(batched[i], single[0]), kTol) << "prompt " << i;
  }
}

TEST(Forward, CachedDecodeEqualsFullForward) {
  auto m = tiny();
  std::vector<int32_t> ids = m->tokenizer().encode("Once upon a time there was a cat", true);
  ASSERT_GE(ids.size(), 6u);
  BatchState full;
  at::Tensor all = m->forward(make_batch({ids}, m->pad_id(), full), full, {nullptr, LogitsMode::kAll});  // [1, T, V]

  const size_t prefix = 3;
  BatchState st;
  at::Tensor tok = make_batch({std::vector<int32_t>(ids.begin(), ids.begin() + prefix)}, m->pad_id(), st);
  m->allocate_cache(st, ids.size());
  at::Tensor logits = m->forward(tok, st);
  EXPECT_LT(max_rel_diff(logits[0], all[0][prefix - 1]), kTol);
  for (size_t t = prefix; t < ids.size(); ++t) {
    logits = m->forward(at::full({1, 1}, int64_t(ids[t]), at::kLong), st);
    EXPECT_LT(max_rel_diff(logits[0], all[0][t]), kTol) << "position " << t;
  }
}

TEST(Forward, HooksSeeConsistentActivations) {
  auto m = tiny();
  const int L = m->config().n_layers;
  HookSet hooks(L);
  std::vector<at::Tensor> pre(L), post(L), mid(L), attn(L), mlp(L);
  for (int l = 0; l < L; ++l) {
    hooks.add({SiteKind::kResidPre, l}, [&, l](at::Tensor& x, const HookContext&) { pre[l] = x.clone(); });
    hooks.add({SiteKind::kResidPost, l}, [&, l](at::Tensor& x, const HookContext&) { post[l] = x.clone(); });
    hooks.add({SiteKind::kResidMid, l}, [&, l](at::Tensor& x, const HookContext&) { mid[l] = x.clone(); });
    hooks.add({SiteKind::kAttnOut, l}, [&, l](at::Tensor& x, const HookContext&) { attn[l] = x.clone(); });
    hooks.add({SiteKind::kMlpOut, l}, [&, l](at::Tensor& x, const HookContext&) { mlp[l] = x.clone(); });
  }
  BatchState st, st2;
  std::vector<int32_t> ids = m->tokenizer().encode("Once upon a time", true);
  at::Tensor with_hooks = m->forward(make_batch({ids}, m->pad_id(), st), st, {&hooks});
  at::Tensor without = m->forward(make_batch({ids}, m->pad_id(), st2), st2);
  EXPECT_TRUE(at::equal(with_hooks, without)) << "read-only hooks changed the output";
  for (int l = 0; l < L; ++l) {
    EXPECT_TRUE(at::allclose(mid[l], pre[l] + attn[l], 1e-6, 1e-6)) << "layer " << l;
    EXPECT_TRUE(at::allclose(post[l], mid[l] + mlp[l], 1e-6, 1e-6)) << "layer " << l;
    if (l + 1 < L) EXPECT_TRUE(at::equal(post[l], pre[l + 1])) << "layer " << l;
  }
}

TEST(Forward, StopAfterEndsThePassAtThatHookPoint) {
  auto m = tiny();
  const int L = m->config().n_layers;
  ASSERT_GE(L, 2);
  std::vector<int32_t> ids = m->tokenizer().encode("Once upon a time", true);
  std::vector<std::string> seen;
  HookSet hooks(L);
  for (SiteKind k : {SiteKind::kResidPre, SiteKind::kAttnOut, SiteKind::kResidPost})
    for (int l = 0; l < L; ++l)
      hooks.add({k, l}, [&seen, k, l](at::Tensor&, const HookContext&) { seen.push_back(site_name({k, l})); });
  BatchState st;
  EXPECT_FALSE(m->forward(make_batch({ids}, m->pad_id(), st), st, {&hooks, LogitsMode::kNone,
                          Site{SiteKind::kResidPre, 1}})
                   .defined());
  // block 0 in full, then only block 1's input
  EXPECT_EQ(seen, (std::vector<std::string>{"blocks.0.hook_resid_pre", "blocks.0.hook_attn_out",
                                            "blocks.0.hook_resid_post", "blocks.1.hook_resid_pre"}));
  seen.clear();
  BatchState st2;
  m->forward(make_batch({ids}, m->pad_id(), st2), st2, {&hooks, LogitsMode::kNone, Site{SiteKind::kResidPost, 0}});
  EXPECT_EQ(seen.back(), "blocks.0.hook_resid_post");
  EXPECT_EQ(seen.size(), 3u);
  for (Site bad : {Site{SiteKind::kMlpOut, 0}, Site{SiteKind::kResidPre, L}}) {
    BatchState st3;
    EXPECT_THROW(m->forward(make_batch({ids}, m->pad_id(), st3), st3, {nullptr, LogitsMode::kNone, bad}), Error)
        << site_name(bad);
  }
  BatchState st4;
  EXPECT_THROW(m->forward(make_batch({ids}, m->pad_id(), st4), st4, {nullptr, LogitsMode::kLast,
                          Site{SiteKind::kResidPre, 0}}),
               Error);  // logits need every layer
}

TEST(Forward, WriteHookChangesOutputAndScopeRemovesIt) {
  auto m = tiny();
  HookSet hooks(m->config().n_layers);
  BatchState a, b, c;
  std::vector<int32_t> ids = m->tokenizer().encode("Lily", true);
  at::Tensor base = m->forward(make_batch({ids}, m->pad_id(), a), a, {&hooks});
  {
    ScopedHook h(hooks, {SiteKind::kResidPre, 2}, [](at::Tensor& x, const HookContext&) { x = x + 1.0; });
    at::Tensor steered = m->forward(make_batch({ids}, m->pad_id(), b), b, {&hooks});
    EXPECT_GT((steered - base).abs().max().item<double>(), 1e-3);
  }
  EXPECT_TRUE(hooks.empty());
  at::Tensor after = m->forward(make_batch({ids}, m->pad_id(), c), c, {&hooks});
  EXPECT_TRUE(at::equal(after, base));
}

TEST(Forward, PositionMasksSkipPadding) {
  auto m = tiny();
  HookSet hooks(m->config().n_layers);
  at::Tensor all_mask, gen_mask, last2;
  hooks.add({SiteKind::kResidPre, 0}, [&](at::Tensor&, const HookContext& ctx) {
    if (!ctx.prefill) return;
    all_mask = ctx.mask(PositionSelector::all());
    gen_mask = ctx.mask(PositionSelector::generated());
    last2 = ctx.mask(PositionSelector::explicit_indices({-2, -1}));
  });
  BatchState st;
  at::Tensor tokens = make_batch({{1, 5, 6, 7}, {1, 9}}, m->pad_id(), st);
  m->forward(tokens, st, {&hooks});
  // Row 1 has 2 pads on the left.
  EXPECT_EQ(all_mask.sum().item<int64_t>(), 6);
  EXPECT_FALSE(all_mask[1][0].item<bool>());
  EXPECT_EQ(gen_mask.sum().item<int64_t>(), 0);
  EXPECT_TRUE(last2[0][2].item<bool>() && last2[0][3].item<bool>() && last2[1][2].item<bool>() &&
              last2[1][3].item<bool>());
  EXPECT_EQ(last2.sum().item<int64_t>(), 4);
}

TEST(Generate, BatchedGreedyEqualsSingle) {
  auto m = tiny();
  GenerateOptions opt;
  opt.max_new_tokens = 12;
  opt.stop_at_eos = false;
  std::vector<EncodedPrompt> prompts;
  for (const auto& t : kTexts) prompts.push_back(encode_raw_prompt(*m, t));
  auto batched = generate(*m, prompts, opt);
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto single = generate(*m, {prompts[i]}, opt);
    EXPECT_EQ(batched[i].ids, single[0].ids) << kTexts[i];
    EXPECT_EQ(batched[i].ids.size(), 12u);
  }
}

TEST(Generate, SamplingIsSeededAndStopStringsCut) {
  auto m = tiny();
  GenerateOptions opt;
  opt.max_new_tokens = 20;
  opt.sampling.temperature = 0.9f;
  opt.sampling.top_k = 40;
  opt.sampling.top_p = 0.95f;
  opt.sampling.seed = 7;
  auto p = encode_raw_prompt(*m, "Once upon a time");
  auto a = generate(*m, {p}, opt), b = generate(*m, {p}, opt);
  EXPECT_EQ(a[0].ids, b[0].ids);
  opt.sampling.seed = 8;
  auto c = generate(*m, {p}, opt);
  EXPECT_NE(a[0].ids, c[0].ids);

  GenerateOptions greedy;
  greedy.max_new_tokens = 30;
  auto g = generate(*m, {p}, greedy);
  ASSERT_GT(g[0].text.size(), 4u);
  std::string stop = g[0].text.substr(2, 2);
  greedy.stop_strings = {stop};
  auto cut = generate(*m, {p}, greedy);
  EXPECT_EQ(cut[0].finish_reason, "stop");
  EXPECT_EQ(cut[0].text.find(stop), std::string::npos);
  EXPECT_EQ(g[0].text.rfind(cut[0].text, 0), 0u) << "cut text is not a prefix";
}

}  // namespace
}  // namespace steer
