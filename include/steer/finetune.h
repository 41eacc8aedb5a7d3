// Supervised fine-tuning towards answer tokens: the fine-tuning baseline the CAA paper compares
// steering with (nrimsky/CAA finetune_llama.py: cross-entropy of the answer letter after the A/B
// question, every decoder weight trained).
//
//   std::vector<steer::AnswerExample> data = ...;   // prompt up to the letter, the letter to learn
//   steer::FinetuneResult ft = steer::finetune_answers(*model, data, {});
//   ft.model->forward(...);                          // the fine-tuned copy, hooks and all
//
// The engine's forward pass (models/decoder.cc) is inference-only: fused CPU kernels, an
// in-place KV cache, no autograd. Training uses its own forward (train/train_forward.cc) written
// with differentiable libtorch ops on float32 copies of the weights; it equals the engine's
// logits (tested per family), so what is trained is the model that is then run.
//
// Optimizer: Adam (β 0.9 / 0.999, ε 1e-8, no weight decay) at a constant learning rate; the
// paper's SGD at 5e-5 is tuned for a 7B model in fp16 and barely moves a 135M one in a few
// hundred steps. The token embedding and LM head stay fixed unless asked (tied heads make them
// one tensor whose change would move every token; the paper trains them, on 7B).
//
// Failure: steer::Error for no examples, an example longer than the context, a target outside
// the vocabulary, non-positive steps / batch / learning rate, a loss that stops being finite.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace steer {

class Model;
struct ModelWeights;

// One training example: the tokens before the answer and the answer token to predict next.
struct AnswerExample {
  std::vector<int32_t> prompt;
  int32_t target = -1;
};

struct FinetuneOptions {
  int steps = 200;               // optimizer steps
  int batch_size = 4;            // examples per step, drawn in a seeded shuffled order, cycling
  double learning_rate = 5e-5;   // Adam
  bool train_embeddings = false; // also train the token embedding and LM head
  uint64_t seed = 42;
  bool progress = true;
  std::string label = "fine-tune";  // the progress bar's label
};

struct FinetuneResult {
  std::shared_ptr<Model> model;      // the fine-tuned copy: same tokenizer, template and dtype
  std::vector<double> step_loss;     // per step: mean cross-entropy of its batch (nats)
  double loss_before = 0, loss_after = 0;  // mean cross-entropy over the first ≤ 64 training examples
  int64_t trained_parameters = 0;
  double seconds = 0;
};

FinetuneResult finetune_answers(const Model& model, const std::vector<AnswerExample>& data,
                                const FinetuneOptions& options = {});

// The next-token logits after each prompt [rows, vocab] float32, computed from `weights`
// (the model's own, or trainable copies) with differentiable ops: gradients flow to every
// weight tensor that requires them. Prompts of different lengths are left-padded.
at::Tensor trainable_last_logits(const Model& model, const ModelWeights& weights,
                                 const std::vector<std::vector<int32_t>>& prompts);

// Mean cross-entropy (nats) of the targets after the prompts, without gradients, in batches.
double answer_loss(const Model& model, const ModelWeights& weights, const std::vector<AnswerExample>& data,
                   int batch_size = 8);

}  // namespace steer
