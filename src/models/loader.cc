// Model::load: GGUF files and Hugging Face directories become the same in-memory model.
// Each format is a TensorSource that hands out float32 tensors by role in HF layout
// ([out, in] for linear weights); one assembly step checks shapes, fuses QKV and gate/up,
// and converts to the compute dtype. Format quirks live in the sources:
//   GGUF: llama-arch Q/K are stored permuted for interleaved rope → un-permuted here.
//   HF:   Gemma norm weights are w with (1 + w) applied → +1 here (GGUF already stores w + 1).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/blas_kernels.h"
#include "core/cpu.h"
#include "steer/error.h"
#include "core/heap.h"
#include "steer/progress.h"
#include "io/dequant.h"
#include "io/read_file.h"
#include "io/tensor_names.h"
#include "steer/chat_template.h"
#include "steer/gguf.h"
#include "steer/model.h"
#include "steer/safetensors.h"
#include "steer/tokenizer.h"

namespace steer {

DType default_dtype() { return cpu_features().native_bf16() ? DType::kBFloat16 : DType::kFloat32; }

void set_compute_threads(int threads) {
  fix_blas_kernels();
  keep_freed_memory();
  const int cpus = available_cpus();
  if (threads > cpus) {
    // More threads than CPUs only wait on each other (a 1-second job took minutes). Warned once:
    // the CLI sets threads and Model::load sets them again.
    static std::atomic<int> warned{0};
    if (warned.exchange(threads) != threads)
      std::fprintf(stderr, "warning: --threads %d is more than the %d CPU%s this process may use; using %d\n", threads,
                   cpus, cpus == 1 ? "" : "s", cpus);
    threads = cpus;
  }
  at::set_num_threads(threads > 0 ? threads : cpus);
}

DType parse_dtype(const std::string& s) {
  if (s == "auto") return default_dtype();
  if (s == "f32" || s == "fp32" || s == "float32") return DType::kFloat32;
  if (s == "bf16" || s == "bfloat16") return DType::kBFloat16;
  fail("unknown dtype '" + s + "'", "use auto, f32 or bf16");
}

std::string dtype_name(DType d) { return d == DType::kBFloat16 ? "bf16" : "f32"; }

namespace {

class TensorSource {
 public:
  virtual ~TensorSource() = default;
  virtual bool has(TensorRole role, int layer) const = 0;
  virtual at::Tensor get(TensorRole role, int layer) const = 0;  // float32, HF layout
  virtual std::string name(TensorRole role, int layer) const = 0;  // for messages
};

// Reverses llama.cpp's permute(): HF [n_head, 2, hd/2, in] was stored as [n_head, hd/2, 2, in].
at::Tensor unpermute_qk(const at::Tensor& w, int64_t n_head) {
  int64_t out = w.size(0), in = w.size(1);
  return w.reshape({n_head, out / n_head / 2, 2, in}).transpose(1, 2).reshape({out, in}).contiguous();
}

bool is_norm_role(TensorRole r) {
  return r == TensorRole::kAttnNorm || r == TensorRole::kFfnNorm || r == TensorRole::kPostAttnNorm ||
         r == TensorRole::kPostFfnNorm || r == TensorRole::kFinalNorm || r == TensorRole::kQNorm ||
         r == TensorRole::kKNorm;
}

class GGUFSource : public TensorSource {
 public:
  GGUFSource(std::shared_ptr<GGUFFile> file, const ModelConfig& c) : file_(std::move(file)), c_(c) {}
  std::string name(TensorRole role, int layer) const override { return gguf_tensor_name(role, layer); }
  bool has(TensorRole role, int layer) const override { return file_->find_tensor(name(role, layer)) != nullptr; }
  at::Tensor get(TensorRole role, int layer) const override {
    const GGUFTensorInfo& info = file_->tensor(name(role, layer));
    std::vector<int64_t> shape(info.ne.rbegin(), info.ne.rend());  // GGUF ne[0] is the fastest axis
    at::Tensor t = at::empty(shape, at::kFloat);
    dequantize_tensor(*file_, info, t.data_ptr<float>());
    if (c_.arch == "llama" && (role == TensorRole::kQ || role == TensorRole::kK))
      t = unpermute_qk(t, role == TensorRole::kQ ? c_.n_heads : c_.n_kv_heads);
    return t;
  }

 private:
  std::shared_ptr<GGUFFile> file_;
  const ModelConfig& c_;
};

class HFSource : public TensorSource {
 public:
  HFSource(const std::string& dir, const ModelConfig& c) : c_(c), shards_(SafetensorsModel::open(dir)) {}
  std::string name(TensorRole role, int layer) const override {
    return hf_tensor_name(role, layer, c_.post_norms);
  }
  bool has(TensorRole role, int layer) const override {
    std::string n = name(role, layer);
    return !n.empty() && shards_.has(n);
  }
  at::Tensor get(TensorRole role, int layer) const override {
    std::string n = name(role, layer);
    SafetensorsModel::Entry e = shards_.get(n);
    std::vector<float> values = e.file->to_float(*e.info);
    at::Tensor t = at::empty(e.info->shape, at::kFloat);
    std::memcpy(t.data_ptr<float>(), values.data(), values.size() * sizeof(float));
    if (c_.norm_plus_one && is_norm_role(role)) t += 1.0f;
    return t;
  }

 private:
  const ModelConfig& c_;
  SafetensorsModel shards_;
};

void expect_shape(const at::Tensor& t, std::vector<int64_t> shape, const std::string& name,
                  const std::string& file) {
  if (t.sizes().vec() != shape) {
    auto str = [](at::IntArrayRef s) {
      std::string r = "[";
      for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
      return r + "]";
    };
    fail(file + ": tensor '" + name + "' has shape " + str(t.sizes()) + ", expected " + str(shape),
         "the metadata and the tensors disagree; is the file corrupt?");
  }
}

ModelWeights assemble(const ModelConfig& c, const TensorSource& src, at::ScalarType dt, const std::string& file,
                      bool progress) {
  const int64_t D = c.d_model, hd = c.head_dim, H = c.n_heads, Hkv = c.n_kv_heads, F = c.d_ffn;
  auto get = [&](TensorRole role, int layer, std::vector<int64_t> shape) {
    if (!src.has(role, layer))
      fail(file + ": missing tensor '" + src.name(role, layer) + "'", "the file does not hold a complete " + c.arch + " model");
    at::Tensor t = src.get(role, layer);
    expect_shape(t, shape, src.name(role, layer), file);
    return t;
  };
  auto opt = [&](TensorRole role, int layer, std::vector<int64_t> shape) {
    return src.has(role, layer) ? get(role, layer, shape) : at::Tensor();
  };
  auto to_dt = [&](const at::Tensor& t) { return t.defined() ? t.to(dt).contiguous() : t; };

  // The layer count sizes what is allocated below: the file must hold that many layers first.
  if (!src.has(TensorRole::kAttnNorm, c.n_layers - 1)) {
    int present = 0;
    while (present < c.n_layers && src.has(TensorRole::kAttnNorm, present)) ++present;
    fail(file + ": the config says " + std::to_string(c.n_layers) + " layers, the file holds tensors for " +
             std::to_string(present),
         "the metadata and the tensors disagree; is the file corrupt?");
  }
  std::unique_ptr<Progress> bar;
  if (progress) bar = std::make_unique<Progress>("loading", c.n_layers + 2, "blocks");
  ModelWeights w;
  w.embed = get(TensorRole::kEmbed, -1, {c.vocab_size, D});
  w.final_norm = to_dt(get(TensorRole::kFinalNorm, -1, {D}));
  if (src.has(TensorRole::kLmHead, -1)) {
    w.lm_head = to_dt(get(TensorRole::kLmHead, -1, {c.vocab_size, D}));
  }
  w.embed = to_dt(w.embed);
  if (!w.lm_head.defined()) w.lm_head = w.embed;  // tied
  if (src.has(TensorRole::kRopeFreqs, -1)) w.rope_freqs = get(TensorRole::kRopeFreqs, -1, {hd / 2});
  if (bar) bar->advance();

  w.layers.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    LayerWeights& L = w.layers[l];
    L.attn_norm = to_dt(get(TensorRole::kAttnNorm, l, {D}));
    at::Tensor q = get(TensorRole::kQ, l, {H * hd, D});
    at::Tensor k = get(TensorRole::kK, l, {Hkv * hd, D});
    at::Tensor v = get(TensorRole::kV, l, {Hkv * hd, D});
    L.wqkv = to_dt(at::cat({q, k, v}, 0));
    if (src.has(TensorRole::kQBias, l)) {
      L.bqkv = to_dt(at::cat({get(TensorRole::kQBias, l, {H * hd}), get(TensorRole::kKBias, l, {Hkv * hd}),
                              get(TensorRole::kVBias, l, {Hkv * hd})}));
    }
    if (c.qk_norm) {
      L.q_norm = to_dt(get(TensorRole::kQNorm, l, {hd}));
      L.k_norm = to_dt(get(TensorRole::kKNorm, l, {hd}));
    }
    L.wo = to_dt(get(TensorRole::kO, l, {D, H * hd}));
    L.bo = to_dt(opt(TensorRole::kOBias, l, {D}));
    L.ffn_norm = to_dt(get(TensorRole::kFfnNorm, l, {D}));
    L.w_gate_up = to_dt(at::cat({get(TensorRole::kGate, l, {F, D}), get(TensorRole::kUp, l, {F, D})}, 0));
    L.w_down = to_dt(get(TensorRole::kDown, l, {D, F}));
    if (c.post_norms) {
      L.post_attn_norm = to_dt(get(TensorRole::kPostAttnNorm, l, {D}));
      L.post_ffn_norm = to_dt(get(TensorRole::kPostFfnNorm, l, {D}));
    }
    if (bar) bar->advance();
  }
  if (bar) bar->finish();
  return w;
}

// inv_freq[i] = 1 / base^(2i / head_dim), in float32 as transformers computes it.
at::Tensor rope_inv_freq(float base, int64_t head_dim) {
  at::Tensor exponents = at::arange(0, head_dim, 2, at::kLong).to(at::kFloat) / float(head_dim);
  return 1.0 / at::pow(at::scalar_tensor(base, at::kFloat), exponents);
}

// transformers' _compute_llama3_parameters: stretch low frequencies, keep high ones.
at::Tensor llama3_scale(const at::Tensor& inv_freq, const ModelConfig& c) {
  const double pi = 3.14159265358979323846;
  double low_wavelen = c.rope_original_context / c.rope_low_freq_factor;
  double high_wavelen = c.rope_original_context / c.rope_high_freq_factor;
  at::Tensor wavelen = 2 * pi / inv_freq;
  at::Tensor scaled = at::where(wavelen > low_wavelen, inv_freq / c.rope_factor, inv_freq);
  at::Tensor smooth = (c.rope_original_context / wavelen - c.rope_low_freq_factor) /
                      (c.rope_high_freq_factor - c.rope_low_freq_factor);
  at::Tensor smoothed = (1 - smooth) * scaled / c.rope_factor + smooth * scaled;
  at::Tensor medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen);
  return at::where(medium, smoothed, scaled);
}

}  // namespace

struct ModelLoader {
  static void finish(Model& m, const LoadOptions& opt, const std::string& template_text) {
    const ModelConfig& c = m.config_;
    m.inv_freq_ = rope_inv_freq(c.rope_base, c.head_dim);
    if (c.rope_scaling == RopeScaling::kLinear) m.inv_freq_ = m.inv_freq_ / c.rope_factor;
    if (c.rope_scaling == RopeScaling::kLlama3) m.inv_freq_ = llama3_scale(m.inv_freq_, c);
    if (m.weights_.rope_freqs.defined()) m.inv_freq_ = m.inv_freq_ / m.weights_.rope_freqs;
    if (c.rope_base_local > 0) m.inv_freq_local_ = rope_inv_freq(c.rope_base_local, c.head_dim);
    if (!opt.chat_template_file.empty()) {
      m.chat_template_ = std::make_unique<ChatTemplate>(ChatTemplate::from_file(opt.chat_template_file));
    } else {
      try {
        m.chat_template_ = std::make_unique<ChatTemplate>(ChatTemplate::detect(template_text, *m.tokenizer_));
      } catch (const Error&) {
        m.chat_template_.reset();  // a base model without turn markers: raw prompts only
      }
    }
  }

  static std::shared_ptr<Model> load(const std::string& path, const LoadOptions& opt) {
    namespace fs = std::filesystem;
    if (!fs::exists(path))
      fail("model not found: " + path, "give a .gguf file or a Hugging Face model directory");
    set_compute_threads(opt.threads);
    std::shared_ptr<Model> m(new Model());
    m->path_ = path;
    m->dtype_ = opt.dtype.value_or(default_dtype());
    at::ScalarType dt = m->dtype_ == DType::kBFloat16 ? at::kBFloat16 : at::kFloat;
    std::string template_text;
    if (fs::is_directory(path)) {
      m->config_ = config_from_hf_dir(path);
      m->tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::from_hf_dir(path));
      std::string tc_path = (fs::path(path) / "tokenizer_config.json").string();
      if (fs::exists(tc_path)) {
        nlohmann::json tc = read_json_file(tc_path, "tokenizer config");
        if (tc.contains("chat_template") && tc["chat_template"].is_string()) template_text = tc["chat_template"];
      }
      std::string jinja_path = (fs::path(path) / "chat_template.jinja").string();
      if (template_text.empty() && fs::exists(jinja_path)) template_text = read_regular_file(jinja_path, "chat template");
      HFSource src(path, m->config_);
      m->weights_ = assemble(m->config_, src, dt, path, opt.progress);
    } else {
      auto file = GGUFFile::open(path);
      m->config_ = config_from_gguf(*file);
      m->tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::from_gguf(*file));
      template_text = file->get_string("tokenizer.chat_template", "");
      GGUFSource src(file, m->config_);
      m->weights_ = assemble(m->config_, src, dt, path, opt.progress);
    }
    // Token ids index the embedding: a tokenizer with more tokens than its rows could read past them.
    if (m->tokenizer_->vocab_size() > m->config_.vocab_size)
      fail(path + ": the tokenizer has " + std::to_string(m->tokenizer_->vocab_size()) +
               " tokens, the embedding only " + std::to_string(m->config_.vocab_size) + " rows",
           "the tokenizer does not belong to these weights; is the file corrupt?");
    finish(*m, opt, template_text);
    return m;
  }
};

std::shared_ptr<Model> Model::load(const std::string& path, const LoadOptions& options) {
  return ModelLoader::load(path, options);
}

Model::~Model() = default;

const ChatTemplate& Model::chat_template() const {
  if (!chat_template_)
    fail(path_ + " has no chat template and its vocabulary has no known turn markers",
         "give a template file (--chat-template FILE) or use raw prompts (--raw)");
  return *chat_template_;
}

int32_t Model::pad_id() const {
  int32_t pad = tokenizer_->pad_id();
  return pad >= 0 ? pad : tokenizer_->eos_id();
}

at::Device Model::device() const { return weights_.embed.device(); }

void Model::allocate_cache(BatchState& state, int64_t capacity) const {
  const ModelConfig& c = config_;
  auto opts = at::TensorOptions().dtype(weights_.embed.scalar_type());
  state.capacity = capacity;
  state.k.clear();
  state.v.clear();
  for (int l = 0; l < c.n_layers; ++l) {
    state.k.push_back(at::empty({state.batch, c.n_kv_heads, capacity, c.head_dim}, opts));
    state.v.push_back(at::empty({state.batch, c.n_kv_heads, capacity, c.head_dim}, opts));
  }
}

}  // namespace steer

namespace steer {

const at::Tensor& Model::rope_inv_freq(int layer) const {
  return config_.is_local(layer) && inv_freq_local_.defined() ? inv_freq_local_ : inv_freq_;
}

std::shared_ptr<Model> Model::with_weights(ModelWeights weights) const {
  auto same = [&](const at::Tensor& a, const at::Tensor& b, const std::string& what) {
    if (a.defined() != b.defined() || (a.defined() && a.sizes() != b.sizes()))
      fail("with_weights: " + what + " has another shape than the model's");
  };
  same(weights.embed, weights_.embed, "embed");
  same(weights.lm_head, weights_.lm_head, "lm_head");
  same(weights.final_norm, weights_.final_norm, "final_norm");
  if (weights.layers.size() != weights_.layers.size()) fail("with_weights: the layer count differs from the model's");
  for (size_t l = 0; l < weights.layers.size(); ++l) {
    const auto a = layer_tensors(weights.layers[l]);
    const auto b = layer_tensors(weights_.layers[l]);
    for (size_t i = 0; i < a.size(); ++i) same(*a[i].second, *b[i].second, "layer " + std::to_string(l) + " " + a[i].first);
  }
  std::shared_ptr<Model> m(new Model());
  m->path_ = path_;
  m->config_ = config_;
  m->weights_ = std::move(weights);
  m->dtype_ = dtype_;
  m->tokenizer_ = std::make_unique<Tokenizer>(*tokenizer_);
  if (chat_template_) m->chat_template_ = std::make_unique<ChatTemplate>(*chat_template_);
  m->inv_freq_ = inv_freq_;
  m->inv_freq_local_ = inv_freq_local_;
  return m;
}

}  // namespace steer
