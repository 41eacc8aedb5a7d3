// Fine-tuning towards answer tokens (steer/finetune.h): float32 trainable copies of the decoder
// weights, the cross-entropy of each example's answer token, Adam, then the trained weights
// back in the model's dtype as a copy of the model.
#include "steer/finetune.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <optional>

#include "steer/error.h"
#include "steer/model.h"
#include "steer/progress.h"
#include "steer/prompts.h"

namespace steer {
namespace {

// Adam without weight decay, on tensors outside autograd.
class Adam {
 public:
  Adam(std::vector<at::Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
    for (const at::Tensor& p : params_) {
      m_.push_back(at::zeros_like(p));
      v_.push_back(at::zeros_like(p));
    }
  }
  void step() {
    at::NoGradGuard no_grad;
    ++t_;
    const double c1 = 1 - std::pow(kBeta1, t_), c2 = 1 - std::pow(kBeta2, t_);
    for (size_t i = 0; i < params_.size(); ++i) {
      at::Tensor g = params_[i].grad();
      if (!g.defined()) continue;
      m_[i].mul_(kBeta1).add_(g, 1 - kBeta1);
      v_[i].mul_(kBeta2).addcmul_(g, g, 1 - kBeta2);
      at::Tensor denom = (v_[i] / c2).sqrt_().add_(kEps);
      params_[i].addcdiv_(m_[i], denom, -lr_ / c1);
    }
  }
  void zero_grad() {
    for (at::Tensor& p : params_)
      if (p.grad().defined()) p.mutable_grad().zero_();
  }

 private:
  static constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;
  std::vector<at::Tensor> params_, m_, v_;
  double lr_;
  int t_ = 0;
};

// The loss of a batch of examples: mean cross-entropy of the targets (differentiable).
at::Tensor batch_loss(const Model& model, const ModelWeights& w, const std::vector<const AnswerExample*>& batch) {
  std::vector<std::vector<int32_t>> prompts;
  std::vector<int64_t> targets;
  for (const AnswerExample* e : batch) {
    prompts.push_back(e->prompt);
    targets.push_back(e->target);
  }
  at::Tensor logits = trainable_last_logits(model, w, prompts);
  at::Tensor t = at::tensor(targets, at::kLong).to(logits.device());
  return at::cross_entropy_loss(logits, t);
}

void check_examples(const Model& model, const std::vector<AnswerExample>& data) {
  const ModelConfig& c = model.config();
  if (data.empty()) fail("fine-tune: no training examples");
  for (size_t i = 0; i < data.size(); ++i) {
    const AnswerExample& e = data[i];
    if (e.prompt.empty()) fail("fine-tune: example " + std::to_string(i) + " has an empty prompt");
    if (c.context_length > 0 && int64_t(e.prompt.size()) >= c.context_length)
      fail("fine-tune: example " + std::to_string(i) + " has " + std::to_string(e.prompt.size()) +
           " tokens, beyond the model's context of " + std::to_string(c.context_length));
    if (e.target < 0 || e.target >= c.vocab_size)
      fail("fine-tune: example " + std::to_string(i) + " has target token " + std::to_string(e.target) +
           " outside the vocabulary (" + std::to_string(c.vocab_size) + ")");
    for (int32_t id : e.prompt)
      if (id < 0 || id >= c.vocab_size)
        fail("fine-tune: example " + std::to_string(i) + " has token " + std::to_string(id) + " outside the vocabulary");
  }
}

// A float32 copy that autograd tracks (undefined stays undefined).
at::Tensor trainable(const at::Tensor& t, std::vector<at::Tensor>& params) {
  if (!t.defined()) return t;
  at::Tensor p = t.detach().to(at::kFloat).clone();
  p.set_requires_grad(true);
  params.push_back(p);
  return p;
}

// Back to the model's dtype, detached and contiguous, for the engine's forward.
at::Tensor frozen(const at::Tensor& t, at::ScalarType dtype) {
  return t.defined() ? t.detach().to(dtype).contiguous() : t;
}

}  // namespace

double answer_loss(const Model& model, const ModelWeights& w, const std::vector<AnswerExample>& data, int batch_size) {
  at::NoGradGuard no_grad;
  if (data.empty()) fail("answer_loss: no examples");
  double total = 0;
  for (size_t i = 0; i < data.size(); i += size_t(std::max(batch_size, 1))) {
    std::vector<const AnswerExample*> batch;
    for (size_t j = i; j < std::min(data.size(), i + size_t(std::max(batch_size, 1))); ++j) batch.push_back(&data[j]);
    total += batch_loss(model, w, batch).item<double>() * double(batch.size());
  }
  return total / double(data.size());
}

FinetuneResult finetune_answers(const Model& model, const std::vector<AnswerExample>& data, const FinetuneOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  if (o.steps < 1) fail("fine-tune: steps must be at least 1");
  if (o.batch_size < 1) fail("fine-tune: the batch size must be at least 1");
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate) || o.learning_rate > 1)
    fail("fine-tune: the learning rate must be in (0, 1]");
  check_examples(model, data);

  const ModelWeights& src = model.weights();
  ModelWeights w = src;  // shares every tensor until replaced by a trainable copy
  std::vector<at::Tensor> params;
  for (LayerWeights& lw : w.layers)
    for (auto& [name, t] : layer_tensors(lw)) *t = trainable(*t, params);
  w.final_norm = trainable(w.final_norm, params);
  if (o.train_embeddings) {
    const bool tied = src.lm_head.is_same(src.embed);
    w.embed = trainable(w.embed, params);
    w.lm_head = tied ? w.embed : trainable(w.lm_head, params);
  }
  FinetuneResult r;
  for (const at::Tensor& p : params) r.trained_parameters += p.numel();

  // The loss before and after over (at most) the first 64 examples: a check that training took,
  // not a second epoch's worth of forwards.
  const std::vector<AnswerExample> probe(data.begin(), data.begin() + std::min<size_t>(data.size(), 64));
  const int eval_batch = std::max(o.batch_size, 8);
  r.loss_before = answer_loss(model, w, probe, eval_batch);
  Adam adam(params, o.learning_rate);
  Sampler rng(o.seed);
  std::vector<size_t> order = rng.shuffle_indices(data.size());
  size_t next = 0;
  std::optional<Progress> bar;
  if (o.progress) bar.emplace(o.label, o.steps, "steps");
  for (int step = 0; step < o.steps; ++step) {
    std::vector<const AnswerExample*> batch;
    for (int i = 0; i < o.batch_size; ++i) {
      if (next == order.size()) {  // a new epoch, a new order
        order = rng.shuffle_indices(data.size());
        next = 0;
      }
      batch.push_back(&data[order[next++]]);
    }
    adam.zero_grad();
    at::Tensor loss = batch_loss(model, w, batch);
    const double value = loss.item<double>();
    if (!std::isfinite(value))
      fail("fine-tune: the loss is not finite at step " + std::to_string(step + 1),
           "lower the learning rate (--finetune-lr)");
    loss.backward();
    adam.step();
    r.step_loss.push_back(value);
    if (bar) bar->advance();
  }
  if (bar) bar->finish();
  r.loss_after = answer_loss(model, w, probe, eval_batch);

  const at::ScalarType dt = src.embed.scalar_type();
  ModelWeights out = w;
  for (LayerWeights& lw : out.layers)
    for (auto& [name, t] : layer_tensors(lw)) *t = frozen(*t, dt);
  out.final_norm = frozen(out.final_norm, dt);
  if (o.train_embeddings) {
    out.embed = frozen(w.embed, dt);
    out.lm_head = w.lm_head.is_same(w.embed) ? out.embed : frozen(w.lm_head, dt);
  }
  r.model = model.with_weights(std::move(out));
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace steer
