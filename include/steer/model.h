// steer::Model — a chat language model loaded from a GGUF file or a Hugging Face directory,
// with a forward pass whose activations can be read and changed at named hook sites.
//
//   auto model = steer::Model::load("smollm2-135m.gguf");
//   steer::BatchState state;
//   at::Tensor tokens = steer::make_batch({model->tokenizer().encode("Hello")}, model->pad_id(), state);
//   at::Tensor logits = model->forward(tokens, state);            // [batch, vocab] float32
//
// Ownership: Model owns its weights, tokenizer and chat template; it is immutable after load
// and safe to share between threads that each use their own BatchState and HookSet.
// Failure: load() throws steer::Error naming the file and what is wrong.
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>

#include "steer/batch.h"
#include "steer/config.h"
#include "steer/hooks.h"
#include "steer/weights.h"

namespace steer {

class Tokenizer;
class ChatTemplate;

enum class DType { kFloat32, kBFloat16 };
DType default_dtype();                   // bf16 where the CPU multiplies bf16 natively, else fp32
DType parse_dtype(const std::string& s); // "f32"/"fp32"/"float32", "bf16"/"bfloat16", "auto"

// libtorch's intra-op threads: `threads` > 0 as given, capped at the CPUs this process may run on
// (its affinity mask; more only makes threads wait on each other; a warning on stderr says so, once);
// 0 → every CPU this process may run on.
// Not libtorch's own default, which counts cores through cpuinfo and on some VMs sees the vCPUs
// as hyper-threads of one core, so runs on ONE thread (seen here: 2 vCPUs, 1 thread, every
// forward twice as slow). Model::load calls it with LoadOptions::threads. It also makes
// OpenBLAS use this CPU's vector kernels where it picked generic ones (core/blas_kernels.h).
void set_compute_threads(int threads);
std::string dtype_name(DType d);

struct LoadOptions {
  std::optional<DType> dtype;       // unset: default_dtype()
  int threads = 0;                  // compute threads; 0: every CPU this process may use
  bool progress = true;             // progress bar on stderr
  std::string chat_template_file;   // overrides the model's own template
};

enum class LogitsMode {
  kNone,  // skip the LM head (activation capture)
  kLast,  // [batch, vocab] at the last slot (generation)
  kAll,   // [batch, seq, vocab]
};

// How one forward runs, besides its input and batch (Model::forward).
struct ForwardArgs {
  const HookSet* hooks = nullptr;          // hooks to run at their sites; null: none
  LogitsMode logits = LogitsMode::kLast;   // what to return
  // End the pass right after this hook point, for activation capture that needs no deeper layers:
  // {kResidPre, L} runs blocks 0..L−1 and block L's resid_pre hook (block L itself does not run);
  // {kResidPost, L} runs blocks 0..L. Other kinds are an error. Needs LogitsMode::kNone; the cache
  // of the blocks not run is left unset, so such a state is not continued.
  std::optional<Site> stop_after;
  // > 0: start at this block, the input being its hook_resid_pre (e.g. kept from an earlier,
  // unsteered pass), for interventions that begin at a layer (Arditi's induce: +r at one layer),
  // whose earlier layers equal a pass already made. Hooks of earlier layers do not run; their KV
  // cache is left as it was.
  int first_layer = 0;
};

class Model {
 public:
  static std::shared_ptr<Model> load(const std::string& path, const LoadOptions& options = {});
  ~Model();

  const ModelConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  // The chat template; steer::Error when the model has none (a base model whose vocabulary
  // has no turn markers) and no template file was given.
  const ChatTemplate& chat_template() const;
  bool has_chat_template() const { return chat_template_ != nullptr; }
  const ModelWeights& weights() const { return weights_; }
  DType dtype() const { return dtype_; }
  const std::string& path() const { return path_; }
  int32_t pad_id() const;

  // Runs `input` for the rows of `state`, starting at slot state.length, and advances
  // state.length by seq. `input` is tokens [batch, seq] (int64), or — with args.first_layer > 0 —
  // hook_resid_pre of that block [batch, seq, d_model]. With a cache (state.capacity > 0) keys and
  // values are appended; without one the forward must cover the whole sequence at once.
  // Returns float32 logits as args.logits says (undefined for kNone). Batching prompts (sorting,
  // chunking, shared prefixes, rows joining and leaving a decode batch) is steer::Runner's job
  // (steer/runner.h); this is one forward of one batch.
  at::Tensor forward(const at::Tensor& input, BatchState& state, const ForwardArgs& args = {}) const;

  // Allocates a KV cache for `capacity` slots (padding included) in `state`.
  void allocate_cache(BatchState& state, int64_t capacity) const;
  // Where the weights live (the CPU, or a GPU with a pip torch build); inputs go there.
  at::Device device() const;

  // The rotary frequencies [head_dim / 2] float32 layer `layer` uses (gemma3's local layers have
  // their own base), for code that runs the layers itself (steer/finetune.h).
  const at::Tensor& rope_inv_freq(int layer) const;

  // A copy of this model (config, tokenizer, chat template, dtype) running other weights of the
  // same shapes, e.g. a fine-tuned copy (steer/finetune.h). Tensors not replaced are shared.
  // steer::Error when a shape differs.
  std::shared_ptr<Model> with_weights(ModelWeights weights) const;
 private:
  Model() = default;
  friend struct ModelLoader;

  at::Tensor attention(int layer, const at::Tensor& h, BatchState& state, const at::Tensor& mask,
                       const at::Tensor& cos, const at::Tensor& sin, const HookSet* hooks,
                       const HookContext& ctx) const;

  std::string path_;
  ModelConfig config_;
  ModelWeights weights_;
  DType dtype_ = DType::kFloat32;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ChatTemplate> chat_template_;
  at::Tensor inv_freq_, inv_freq_local_;  // [head_dim / 2] float32 rope frequencies
};

}  // namespace steer
