// A/B scoring under steering (steer/ab_eval.h) on the real tiny model with a small chat
// template: every probability equals a hand computation from one plain forward of the whole
// prompt (softmax of the last logits, renormalized over the letters), steered settings equal
// the library's own add intervention at after-instruction positions, and the prefix reuse the
// sweep does changes nothing. Tolerance 1e-5 absolute on probabilities (fp32 logits of two
// passes that differ in how the KV cache is filled; the softmax is taken in float64).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "steer/ab_eval.h"
#include "steer/batch.h"
#include "steer/error.h"
#include "steer/hooks.h"
#include "steer/interventions.h"
#include "steer/model.h"
#include "steer/stats.h"
#include "steer/tokenizer.h"
#include "tiny_models.h"

namespace steer {
namespace {

DirectionSet random_vectors(const Model& m, uint64_t seed) {
  at::manual_seed(seed);
  DirectionMeta meta;
  meta.n_layers = m.config().n_layers;
  meta.d_model = m.config().d_model;
  meta.site = SiteKind::kResidPost;
  meta.method = "caa";
  std::map<int, at::Tensor> v;
  for (int l = 0; l < m.config().n_layers; ++l) v[l] = at::randn({m.config().d_model}) * 0.8;
  return DirectionSet(meta, v);
}

// p over `letters` at the last position of one unbatched forward, with `hooks`.
std::vector<double> by_hand(const Model& m, const ChoiceQuestion& q, const HookSet* hooks) {
  BatchState st;
  at::Tensor tokens = make_batch({q.prompt.ids}, m.pad_id(), st);
  st.instruction_end[0] = q.prompt.instruction_end;
  ForwardArgs fa;
  fa.hooks = hooks;
  at::Tensor logits = m.forward(tokens, st, fa).to(at::kDouble)[0];
  at::Tensor p = logits.softmax(-1);
  const std::vector<int32_t>& ids = q.letter_ids;
  std::vector<double> out;
  double total = 0;
  for (int32_t id : ids) total += p[id].item<double>();
  for (int32_t id : ids) out.push_back(p[id].item<double>() / total);
  return out;
}

TEST(ABEval, ProbabilitiesEqualAHandComputationUnsteeredAndSteered) {
  auto m = test::tiny_chat();
  std::vector<ChoiceQuestion> qs = {
      encode_choice_question(*m, "Is the sky blue?\n(A) yes\n(B) no", {'A', 'B'}),
      encode_choice_question(*m, "Once upon a time there was a cat.\n(A) a dog\n(B) a cat\n(C) a hat", {'A', 'B', 'C'}),
  };
  ASSERT_GT(qs[0].prompt.ids.size(), size_t(qs[0].prompt.instruction_end));
  DirectionSet v = random_vectors(*m, 3);
  std::vector<SteerSetting> settings = {{-1, 0}, {1, 2.0}, {3, -1.5}, {1, -2.0}, {4, 0.5}};
  ChoiceSweepOptions o;
  o.progress = false;
  o.batch_size = 2;  // settings split over several passes of one prefix
  ChoiceSweep sweep = choice_sweep(*m, qs, v, settings, o);
  double moved = 0;
  for (size_t s = 0; s < settings.size(); ++s)
    for (size_t q = 0; q < qs.size(); ++q) {
      HookSet hooks(m->config().n_layers);
      Steering steer;
      if (settings[s].steered())
        steer.add(v.at_layer(settings[s].layer), float(settings[s].multiplier), {settings[s].layer},
                  PositionSelector::after_instruction());
      SteeringScope scope = steer.attach(hooks, *m);
      std::vector<double> want = by_hand(*m, qs[q], &hooks);
      ASSERT_EQ(sweep.probs[s][q].size(), want.size());
      double sum = 0;
      for (size_t k = 0; k < want.size(); ++k) {
        EXPECT_NEAR(sweep.probs[s][q][k], want[k], 1e-5) << "setting " << s << " question " << q << " letter " << k;
        sum += sweep.probs[s][q][k];
        moved = std::max(moved, std::abs(sweep.probs[s][q][k] - sweep.probs[0][q][k]));
      }
      EXPECT_NEAR(sum, 1.0, 1e-12);
    }
  EXPECT_GT(moved, 1e-3) << "the random vectors must move the answer, or the test shows nothing";
  EXPECT_DOUBLE_EQ(sweep.p(1, 1, 'C'), sweep.probs[1][1][2]);
  EXPECT_THROW(sweep.p(1, 0, 'C'), Error);
}

TEST(ABEval, SweepRejectsBadLayersAndSites) {
  auto m = test::tiny_chat();
  auto q = encode_choice_question(*m, "Is it?\n(A) yes\n(B) no", {'A', 'B'});
  DirectionSet v = random_vectors(*m, 1);
  ChoiceSweepOptions o;
  o.progress = false;
  EXPECT_THROW(choice_sweep(*m, {q}, v, {{m->config().n_layers, 1.0}}, o), Error);
  DirectionSet one = v.only_layers({2});
  EXPECT_THROW(choice_sweep(*m, {q}, one, {{3, 1.0}}, o), Error);
  // Unsteered settings need no vector at all.
  EXPECT_NO_THROW(choice_sweep(*m, {q}, one, {{3, 0.0}, {-1, 1.0}}, o));
}

TEST(ABEval, AnswerLetterOffsetIsReadFromTheTokens) {
  auto m = test::tiny_chat();
  for (const char* answer : {"(A)", "(B)"}) {
    ChoiceQuestion q = encode_choice_question(*m, "Pick one.\n(A) x\n(B) y", {'A', 'B'});
    EncodedPrompt p = q.prompt;
    // The prompt ending in "(": append the letter and ")" as the tokenizer reads the answer.
    std::vector<int32_t> rest =
        m->tokenizer().encode_continuation(std::string(answer).substr(q.paren_in_prompt ? 1 : 0), false);
    p.ids.insert(p.ids.end(), rest.begin(), rest.end());
    int64_t off = answer_letter_offset(*m, p, answer[1]);
    ASSERT_LT(off, 0);
    std::string piece = m->tokenizer().decode({p.ids[p.ids.size() + size_t(off)]});
    EXPECT_NE(piece.find(answer[1]), std::string::npos) << "offset " << off << " piece '" << piece << "'";
    // No later token holds the letter.
    for (int64_t k = off + 1; k < 0; ++k)
      EXPECT_EQ(m->tokenizer().decode({p.ids[p.ids.size() + size_t(k)]}).find(answer[1]), std::string::npos);
  }
}

TEST(Stats, BootstrapIntervalsAreSeededAndSane) {
  std::vector<double> xs;
  for (int i = 0; i < 40; ++i) xs.push_back(double(i % 7) / 7.0);
  Interval a = bootstrap_mean(xs), b = bootstrap_mean(xs);
  EXPECT_DOUBLE_EQ(a.lo, b.lo);
  EXPECT_DOUBLE_EQ(a.hi, b.hi);
  EXPECT_LT(a.lo, a.mean);
  EXPECT_GT(a.hi, a.mean);
  // The interval of a mean of n values with sd s is about ±1.96·s/√n wide.
  double mean = a.mean, var = 0;
  for (double x : xs) var += (x - mean) * (x - mean);
  const double se = std::sqrt(var / double(xs.size())) / std::sqrt(double(xs.size()));
  EXPECT_NEAR(a.hi - a.lo, 2 * 1.96 * se, 0.35 * 2 * 1.96 * se);
  Interval c = bootstrap_mean(std::vector<double>(10, 0.25));
  EXPECT_DOUBLE_EQ(c.lo, 0.25);
  EXPECT_DOUBLE_EQ(c.hi, 0.25);
  // Paired: a constant shift has a zero-width interval even when the values vary a lot.
  std::vector<double> shifted = xs;
  for (double& x : shifted) x += 0.1;
  Interval d = bootstrap_mean_difference(shifted, xs);
  EXPECT_NEAR(d.mean, 0.1, 1e-12);
  EXPECT_NEAR(d.hi - d.lo, 0.0, 1e-12);
  EXPECT_THROW(bootstrap_mean({}), Error);
  EXPECT_THROW(bootstrap_mean({1.0, NAN}), Error);
  EXPECT_THROW(bootstrap_mean_difference({1.0}, {1.0, 2.0}), Error);
}

}  // namespace
}  // namespace steer
