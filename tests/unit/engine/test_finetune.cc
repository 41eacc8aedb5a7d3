// The fine-tuning baseline (steer/finetune.h) on the tiny model: its differentiable forward
// equals the engine's logits, and training lowers the loss on its own data.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "steer/batch.h"
#include "steer/error.h"
#include "steer/finetune.h"
#include "steer/model.h"
#include "steer/tokenizer.h"
#include "tiny_models.h"

namespace steer {
namespace {

at::Tensor engine_last_logits(const Model& m, const std::vector<int32_t>& ids) {
  BatchState state;
  at::Tensor tokens = make_batch({ids}, m.pad_id(), state);
  return m.forward(tokens, state).squeeze(0);
}

TEST(Finetune, TrainableForwardEqualsTheEngineWithPadding) {
  auto m = test::tiny();
  std::vector<int32_t> a = m->tokenizer().encode("Once upon a time there was a little dog");
  std::vector<int32_t> b = m->tokenizer().encode("The cat");
  at::Tensor got = trainable_last_logits(*m, m->weights(), {a, b});  // b is left-padded
  ASSERT_EQ(got.size(0), 2);
  EXPECT_LT((got[0] - engine_last_logits(*m, a)).abs().max().item<double>(), 1e-4);
  EXPECT_LT((got[1] - engine_last_logits(*m, b)).abs().max().item<double>(), 1e-4);
}

TEST(Finetune, LowersTheAnswerLossOnItsTrainingData) {
  auto m = test::tiny();
  const auto& tok = m->tokenizer();
  std::vector<AnswerExample> data;
  for (const char* text : {"Once upon a time", "The little girl", "A big dog ran", "She was happy and"})
    data.push_back({tok.encode(text), tok.encode(" sun").back()});
  FinetuneOptions o;
  o.steps = 20;
  o.batch_size = 2;
  o.learning_rate = 3e-3;
  o.progress = false;
  FinetuneResult r = finetune_answers(*m, data, o);
  ASSERT_EQ(r.step_loss.size(), 20u);
  EXPECT_GT(r.trained_parameters, 0);
  EXPECT_LT(r.loss_after, 0.5 * r.loss_before) << "before " << r.loss_before << " after " << r.loss_after;
  // The copy runs in the engine and agrees with the trained weights' loss.
  double engine_loss = 0;
  for (const AnswerExample& e : data)
    engine_loss -= at::log_softmax(engine_last_logits(*r.model, e.prompt), -1)[e.target].item<double>();
  EXPECT_NEAR(engine_loss / double(data.size()), r.loss_after, 1e-3);
  // The original is untouched.
  EXPECT_NEAR(answer_loss(*m, m->weights(), data), r.loss_before, 1e-5);
}

TEST(Finetune, BadExamplesAndOptionsAreErrors) {
  auto m = test::tiny();
  FinetuneOptions o;
  o.progress = false;
  EXPECT_THROW(finetune_answers(*m, {}, o), Error);
  EXPECT_THROW(finetune_answers(*m, {{{1, 2}, m->config().vocab_size}}, o), Error);
  o.learning_rate = std::nan("");
  EXPECT_THROW(finetune_answers(*m, {{{1, 2}, 3}}, o), Error);
}

}  // namespace
}  // namespace steer
