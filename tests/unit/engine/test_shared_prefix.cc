// Shared-prefix batches on the real tiny model (stories260K, F32): running the common prefix
// once (Runner::run_prefix) and the rest of every row after it (make_batch_after_prefix) gives
// the logits, decode steps, interventions and captures of the plain left-padded batch, up to
// fp32 rounding from the different batch shapes (kTol, relative to the largest value).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "steer/error.h"
#include "steer/capture.h"
#include "steer/generate.h"
#include "steer/interventions.h"
#include "steer/model.h"
#include "steer/tokenizer.h"
#include "test_errors.h"
#include "tiny_models.h"

namespace steer {
namespace {

using test::error_of;
using test::tiny;

constexpr double kTol = 1e-5;

double max_rel(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>() /
         std::max(1e-12, b.to(at::kDouble).abs().max().item<double>());
}

// Prompts sharing a long opening, with endings of different lengths (so rows get padding).
std::vector<std::vector<int32_t>> prompts(const Model& m) {
  std::vector<std::vector<int32_t>> out;
  for (const char* end : {" a cat.", " a little dog who liked to run in the park every day", " Tom",
                          " a big red ball that was very shiny"})
    out.push_back(m.tokenizer().encode(std::string("Once upon a time there was a girl named Lily. She had") + end,
                                       true));
  return out;
}

TEST(SharedPrefix, PositionsFollowThePrefixThenPaddingRule) {
  BatchState st;
  st.batch = 2;
  st.pad = {0, 2};
  st.prefix = 3;
  at::Tensor pos = slot_positions(st, 7, 0);  // slots 0..6
  std::vector<int64_t> row0(pos[0].data_ptr<int64_t>(), pos[0].data_ptr<int64_t>() + 7);
  std::vector<int64_t> row1(pos[1].data_ptr<int64_t>(), pos[1].data_ptr<int64_t>() + 7);
  EXPECT_EQ(row0, std::vector<int64_t>({0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(row1, std::vector<int64_t>({0, 1, 2, -1, -1, 3, 4}));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t s = 0; s < 7; ++s) {
      EXPECT_EQ(st.position(b, s), (b == 0 ? row0 : row1)[s]);
      if (st.position(b, s) >= 0) EXPECT_EQ(st.slot(b, st.position(b, s)), s);
    }
  EXPECT_TRUE(st.padding_in(3, 5));
  EXPECT_FALSE(st.padding_in(0, 3));
  EXPECT_FALSE(st.padding_in(5, 7));
}

TEST(SharedPrefix, LengthStopsBeforeInstructionsAndReadPositions) {
  std::vector<std::vector<int32_t>> p = {{1, 2, 3, 4, 5, 6, 7, 8}, {1, 2, 3, 4, 5, 6, 9}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
  EXPECT_EQ(shared_prefix_length(p, {}, 1, 1), 6);
  EXPECT_EQ(shared_prefix_length(p, {8, 5, 8}, 1, 1), 5);  // row 1's instruction starts at 5
  EXPECT_EQ(shared_prefix_length(p, {}, 3, 1), 4);         // row 1 must keep its last 3 tokens
  EXPECT_EQ(shared_prefix_length(p, {}, 1, 7), 0);         // too short to be worth it
  EXPECT_EQ(shared_prefix_length({{1, 2}, {3, 4}}, {}, 1, 1), 0);
}

TEST(SharedPrefix, LogitsAndDecodeEqualThePlainBatch) {
  auto m = tiny();
  auto ids = prompts(*m);
  int64_t P = shared_prefix_length(ids, {}, 1);
  ASSERT_GE(P, 8);
  std::vector<int32_t> head(ids[0].begin(), ids[0].begin() + P);

  BatchState plain;
  at::Tensor tokens = make_batch(ids, m->pad_id(), plain);
  m->allocate_cache(plain, tokens.size(1) + 2);
  at::Tensor want = m->forward(tokens, plain, {nullptr, LogitsMode::kLast});

  BatchState shared;
  BatchState prefix_state = Runner(*m).run_prefix(head, 1000, 1000, {nullptr}).state;
  at::Tensor rest = make_batch_after_prefix(prefix_state, head, ids, m->pad_id(), shared, {}, 2);
  EXPECT_EQ(rest.size(1), tokens.size(1) - P);
  at::Tensor got = m->forward(rest, shared, {nullptr, LogitsMode::kLast});
  EXPECT_LT(max_rel(got, want), kTol);

  // One decode step on each: same next-token logits.
  at::Tensor next = want.argmax(-1, true);  // [B, 1]
  EXPECT_LT(max_rel(m->forward(next, shared, {nullptr, LogitsMode::kLast}),
                    m->forward(next, plain, {nullptr, LogitsMode::kLast})),
            kTol);
}

TEST(SharedPrefix, InterventionsActOnThePrefixToo) {
  auto m = tiny();
  auto ids = prompts(*m);
  int64_t P = shared_prefix_length(ids, {}, 1);
  std::vector<int32_t> head(ids[0].begin(), ids[0].begin() + P);
  at::Tensor r = at::randn({m->config().d_model}, at::TensorOptions().dtype(at::kFloat));
  Steering steer;
  steer.ablate(r).add(r, 2.f, {2}, PositionSelector::all(), SiteKind::kResidPre);
  HookSet hooks(m->config().n_layers);
  SteeringScope scope = steer.attach(hooks, *m);

  BatchState plain;
  at::Tensor want = m->forward(make_batch(ids, m->pad_id(), plain), plain, {&hooks, LogitsMode::kLast});
  BatchState shared;
  BatchState prefix_state = Runner(*m).run_prefix(head, 1000, 1000, {&hooks}).state;
  at::Tensor got = m->forward(make_batch_after_prefix(prefix_state, head, ids, m->pad_id(), shared, {}, 0), shared, {&hooks, LogitsMode::kLast});
  EXPECT_LT(max_rel(got, want), kTol);
  // And the ablation did something: the unsteered logits differ.
  BatchState bare;
  at::Tensor unsteered = [&] {
    scope.reset();
    return m->forward(make_batch(ids, m->pad_id(), bare), bare, {nullptr, LogitsMode::kLast});
  }();
  EXPECT_GT(max_rel(unsteered, want), 1e-3);
}

TEST(SharedPrefix, CaptureWithAndWithoutSharingAgree) {
  auto m = tiny();
  std::vector<EncodedPrompt> enc;
  for (auto& ids : prompts(*m)) enc.push_back({ids, int64_t(ids.size()) - 2});
  for (CapturePositions pos : {CapturePositions::explicit_indices({-3, -1}), CapturePositions::after_instruction_mean(),
                               CapturePositions::prompt_mean()}) {
    CaptureOptions o;
    o.sites = {SiteKind::kResidPre, SiteKind::kResidPost};
    o.positions = pos;
    o.keep_examples = true;
    o.batch_size = 4;
    o.progress = false;
    Activations shared = capture(*m, enc, o);
    o.share_prefix = false;
    Activations plain = capture(*m, enc, o);
    for (int l = 0; l < m->config().n_layers; ++l)
      for (SiteKind s : o.sites) {
        EXPECT_LT(max_rel(shared.examples(s, l), plain.examples(s, l)), kTol) << pos.to_string() << " layer " << l;
        EXPECT_LT(max_rel(shared.sum(s, l), plain.sum(s, l)), kTol) << pos.to_string() << " layer " << l;
      }
  }
}

TEST(SharedPrefix, RejectsPromptsThatDoNotContinueThePrefix) {
  auto m = tiny();
  auto ids = prompts(*m);
  std::vector<int32_t> head(ids[0].begin(), ids[0].begin() + 6);
  BatchState prefix_state = Runner(*m).run_prefix(head, 1000, 1000, {nullptr}).state, st;
  ids.push_back({1, 2, 3});
  EXPECT_NE(error_of([&] { make_batch_after_prefix(prefix_state, head, ids, m->pad_id(), st, {}, 0); })
                .find("prompt 4 does not continue"),
            std::string::npos);
  BatchState uncached;
  make_batch({head}, m->pad_id(), uncached);
  EXPECT_THROW(make_batch_after_prefix(uncached, head, prompts(*m), m->pad_id(), st, {}, 0), Error);
}

}  // namespace
}  // namespace steer
