// The fine-tuning baseline's differentiable forward (train/train_forward.cc) equals the engine's
// logits on every default model family (llama, qwen2 with biases and GQA, gemma3 with qk-norm,
// post-norms, local layers and its own rope base), float32, prompts of different lengths in one
// left-padded batch. The engine is parity-checked against transformers (tests/parity), so this
// ties what is trained to the model that is then run.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "steer/batch.h"
#include "steer/chat_template.h"
#include "steer/finetune.h"
#include "steer/model.h"
#include "steer/tokenizer.h"
#include "test_paths.h"

namespace steer {
namespace {

TEST(FinetuneModels, TrainableForwardEqualsTheEngine) {
  for (const char* key : {"smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m"}) {
    std::string path = test::default_model(key);
    ASSERT_FALSE(path.empty()) << key;
    LoadOptions lo;
    lo.progress = false;
    lo.dtype = DType::kFloat32;
    auto m = Model::load(path, lo);
    std::vector<std::vector<int32_t>> prompts = {
        m->tokenizer().encode("Tell me about the history of the Roman Empire in two sentences, please."),
        m->tokenizer().encode("Hi!")};
    at::Tensor got = trainable_last_logits(*m, m->weights(), prompts);
    for (size_t i = 0; i < prompts.size(); ++i) {
      BatchState state;
      at::Tensor want = m->forward(make_batch({prompts[i]}, m->pad_id(), state), state).squeeze(0);
      const double scale = want.abs().max().item<double>();
      const double err = (got[int64_t(i)] - want).abs().max().item<double>();
      EXPECT_LT(err, 1e-3 * scale) << key << " prompt " << i << " max |Δ| " << err << " of " << scale;
      EXPECT_EQ(got[int64_t(i)].argmax().item<int64_t>(), want.argmax().item<int64_t>()) << key;
    }
  }
}

}  // namespace
}  // namespace steer
