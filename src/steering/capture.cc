// Activation capture: float64 running sums (and optional float32 per-example activations) at
// chosen sites × layers × positions, gathered by hooks during one batched forward per batch.
#include "steer/json_text.h"
#include "steer/capture.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>

#include "steer/error.h"
#include "steer/progress.h"
#include "steer/generate.h"
#include "steer/safetensors.h"

namespace steer {

// ---------------------------------------------------------------------------------------------
// Options parsing

CapturePositions CapturePositions::parse(const std::string& text) {
  if (text == "prompt-mean" || text == "prompt_mean" || text == "mean") return prompt_mean();
  if (text == "after-instruction-mean" || text == "after_instruction_mean") return after_instruction_mean();
  PositionSelector sel = PositionSelector::parse(text);
  switch (sel.kind) {
    case PositionSelector::Kind::kAll:
    case PositionSelector::Kind::kPrompt: return prompt_mean();
    case PositionSelector::Kind::kAfterInstruction: return after_instruction_mean();
    case PositionSelector::Kind::kGenerated:
      fail("positions '" + text + "': a capture reads prompts, so 'generated' selects no token",
           "use indices like -5,-4,-1, prompt or after-instruction");
    case PositionSelector::Kind::kExplicit: break;
  }
  std::set<int64_t> seen;
  for (int64_t i : sel.indices)
    if (!seen.insert(i).second) fail("positions '" + text + "' list " + std::to_string(i) + " twice");
  return {sel, Reduce::kEach};
}

std::string CapturePositions::to_string() const {
  if (reduce == Reduce::kMean) return select.to_string() + "-mean";  // "prompt-mean", "after-instruction-mean"
  return select.to_string();
}

// ---------------------------------------------------------------------------------------------
// Activations

Activations::Activations(std::vector<SiteKind> sites, std::vector<int> layers, CapturePositions positions,
                         int d_model, bool keep_examples)
    : sites_(std::move(sites)),
      layers_(std::move(layers)),
      positions_(std::move(positions)),
      d_model_(d_model),
      keep_examples_(keep_examples) {
  for (SiteKind s : sites_)
    for (int l : layers_) sums_[key(s, l)] = at::zeros({positions_.rows(), d_model_}, at::kDouble);
  if (keep_examples_) reserve_examples(0);
}

void Activations::reserve_examples(int64_t n) {
  for (SiteKind s : sites_)
    for (int l : layers_) examples_[key(s, l)] = at::zeros({n, positions_.rows(), d_model_}, at::kFloat);
}

bool Activations::has(SiteKind site, int layer) const { return sums_.count(key(site, layer)) != 0; }

const at::Tensor& Activations::find(const std::map<Key, at::Tensor>& m, SiteKind site, int layer,
                                    const char* what) const {
  auto it = m.find(key(site, layer));
  if (it != m.end()) return it->second;
  if (&m == &examples_ && has(site, layer))
    fail("activations: " + site_name({site, layer}) + " has no per-example activations",
         "capture with keep_examples (--per-example)");
  std::ostringstream layers;
  for (size_t i = 0; i < layers_.size(); ++i) layers << (i ? "," : "") << layers_[i];
  std::string sites;
  for (SiteKind s : sites_) sites += (sites.empty() ? "" : ",") + site_kind_name(s);
  fail(std::string("activations: ") + what + " of " + site_name({site, layer}) + " was not captured (sites " +
           sites + ", layers " + layers.str() + ")",
       "capture that site and layer");
}

const at::Tensor& Activations::sum(SiteKind site, int layer) const { return find(sums_, site, layer, "the sum"); }

at::Tensor Activations::mean(SiteKind site, int layer) const {
  const at::Tensor& s = sum(site, layer);
  if (count_ == 0) fail("activations: no example was captured, so there is no mean");
  return s / double(count_);
}

const at::Tensor& Activations::examples(SiteKind site, int layer) const {
  return find(examples_, site, layer, "the examples");
}

void Activations::add(SiteKind site, int layer, const at::Tensor& rows, const std::vector<int64_t>& indices) {
  auto it = sums_.find(key(site, layer));
  if (it == sums_.end()) fail("activations: " + site_name({site, layer}) + " is not being captured");
  it->second.add_(rows.to(at::kDouble).sum(0));  // float64 accumulation
  if (keep_examples_) {
    at::Tensor& ex = examples_[key(site, layer)];
    ex.index_copy_(0, at::tensor(indices, at::kLong), rows.to(at::kFloat));
  }
}

void Activations::merge(const Activations& o) {
  auto mismatch = [](const std::string& what) {
    fail("activations: cannot merge captures with different " + what,
         "merge only shards of one capture (same sites, layers, positions, model)");
  };
  if (o.sites_ != sites_) mismatch("sites");
  if (o.layers_ != layers_) mismatch("layers");
  if (!(o.positions_ == positions_)) mismatch("positions (" + positions_.to_string() + " vs " + o.positions_.to_string() + ")");
  if (o.d_model_ != d_model_)
    mismatch("d_model (" + std::to_string(d_model_) + " vs " + std::to_string(o.d_model_) + ")");
  if (o.keep_examples_ != keep_examples_) mismatch("per-example settings");
  for (auto& [k, s] : sums_) s.add_(o.sums_.at(k));
  if (keep_examples_)
    for (auto& [k, e] : examples_) e = at::cat({e, o.examples_.at(k)}, 0);
  count_ += o.count_;
}

void Activations::save(const std::string& path) const {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext != ".safetensors" && ext != ".SAFETENSORS")  // the bytes are safetensors; so is the name
    fail("cannot save activations to '" + path + "': they are written as safetensors",
         "give a name ending in .safetensors");
  SafetensorsWriter w;
  for (SiteKind s : sites_)
    for (int l : layers_) {
      const std::string name = site_name({s, l});
      const at::Tensor& sum = sums_.at(key(s, l));
      w.add_tensor_view(name + ".sum", SafetensorsDType::F64, {sum.size(0), sum.size(1)}, sum.data_ptr());
      if (keep_examples_) {
        const at::Tensor& e = examples_.at(key(s, l));
        w.add_tensor_view(name, SafetensorsDType::F32, {e.size(0), e.size(1), e.size(2)}, e.data_ptr());
      }
    }
  nlohmann::json sites = nlohmann::json::array();
  for (SiteKind s : sites_) sites.push_back(site_kind_name(s));
  nlohmann::json meta = {{"count", count_},
                         {"sites", sites},
                         {"layers", layers_},
                         {"positions", positions_.to_string()},
                         {"d_model", d_model_},
                         {"per_example", keep_examples_},
                         {"info", info}};
  w.set_metadata("steer.activations", json_text(meta));
  w.write(path);
}

Activations Activations::load(const std::string& path) {
  auto file = SafetensorsFile::open(path);
  auto it = file->metadata().find("steer.activations");
  if (it == file->metadata().end())
    fail(path + ": not an activations file (no 'steer.activations' metadata)",
         "activation files are written by `steer capture`");
  Activations a;
  try {
    nlohmann::json m = nlohmann::json::parse(it->second);
    std::vector<SiteKind> sites;
    for (const auto& s : m.at("sites")) sites.push_back(parse_site_kind(s.get<std::string>()));
    a = Activations(sites, m.at("layers").get<std::vector<int>>(),
                    CapturePositions::parse(m.at("positions").get<std::string>()), m.at("d_model").get<int>(),
                    m.at("per_example").get<bool>());
    a.count_ = m.at("count").get<int64_t>();
    a.info = m.value("info", nlohmann::json::object());
  } catch (const Error& e) {
    fail(path + ": " + e.what(), e.hint());
  } catch (const std::exception& e) {
    fail(path + ": malformed 'steer.activations' metadata: " + e.what());
  }
  auto read = [&](const std::string& name, SafetensorsDType dtype, std::vector<int64_t> shape) {
    const SafetensorsTensorInfo& info = file->tensor(name);
    if (info.dtype != dtype || info.shape != shape)
      fail(path + ": tensor '" + name + "' has the wrong dtype or shape for this capture");
    at::Tensor t = at::empty(shape, dtype == SafetensorsDType::F64 ? at::kDouble : at::kFloat);
    std::memcpy(t.data_ptr(), file->tensor_data(info), info.n_bytes());
    return t;
  };
  const int64_t P = a.positions_.rows(), D = a.d_model_;
  for (SiteKind s : a.sites_)
    for (int l : a.layers_) {
      const std::string name = site_name({s, l});
      a.sums_[key(s, l)] = read(name + ".sum", SafetensorsDType::F64, {P, D});
      if (a.keep_examples_) a.examples_[key(s, l)] = read(name, SafetensorsDType::F32, {a.count_, P, D});
    }
  return a;
}

// ---------------------------------------------------------------------------------------------
// capture()

namespace {

bool capturable(SiteKind s) {
  return s == SiteKind::kResidPre || s == SiteKind::kResidMid || s == SiteKind::kResidPost ||
         s == SiteKind::kAttnOut || s == SiteKind::kMlpOut;
}

// Checks that every prompt has the positions asked for (before any forward runs).
void check_positions(const std::vector<EncodedPrompt>& prompts, const CapturePositions& pos) {
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int64_t len = prompts[i].ids.size();
    if (len == 0) fail("capture: prompt " + std::to_string(i) + " has no tokens");
    if (pos.select.kind == PositionSelector::Kind::kExplicit) {
      for (int64_t p : pos.select.indices)
        if (p >= len || p < -len)
          fail("capture: position " + std::to_string(p) + " does not exist in prompt " + std::to_string(i) +
                   ", which has " + std::to_string(len) + " tokens",
               "negative positions count back from the prompt's end (−1 is its last token)");
    } else if (pos.select.kind == PositionSelector::Kind::kAfterInstruction) {
      int64_t start = prompts[i].instruction_end;
      if (start < 0 || start >= len)
        fail("capture: prompt " + std::to_string(i) + " has no post-instruction tokens (instruction ends at " +
                 std::to_string(start) + " of " + std::to_string(len) + ")",
             "after-instruction-mean needs chat-formatted prompts; use prompt-mean for raw text");
    }
  }
}

}  // namespace

std::vector<EncodedPrompt> encode_prompts(const Model& model, const std::vector<std::string>& texts, bool raw,
                                          const std::string& system) {
  std::vector<EncodedPrompt> out;
  out.reserve(texts.size());
  for (const auto& t : texts) out.push_back(raw ? encode_raw_prompt(model, t) : encode_chat_prompt(model, t, system));
  return out;
}

Activations capture_texts(const Model& model, const std::vector<std::string>& texts, const CaptureOptions& options,
                          bool raw, const std::string& system, const HookSet* hooks) {
  return capture(model, encode_prompts(model, texts, raw, system), options, hooks);
}

Activations capture(const Model& model, const std::vector<EncodedPrompt>& prompts, const CaptureOptions& options,
                    const HookSet* hooks) {
  const ModelConfig& c = model.config();
  if (prompts.empty()) fail("capture: no prompts");
  if (options.batch_size < 1) fail("capture: batch size must be ≥ 1, got " + std::to_string(options.batch_size));
  if (options.sites.empty()) fail("capture: no hook site given");
  for (size_t i = 0; i < options.sites.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (options.sites[i] == options.sites[j])
        fail("capture: site " + site_kind_name(options.sites[i]) + " is listed twice");
  for (SiteKind s : options.sites)
    if (!capturable(s))
      fail("capture: site " + site_kind_name(s) + " cannot be captured",
           "capture a [batch, pos, d_model] site: resid_pre, attn_out, resid_mid, mlp_out, resid_post");
  std::vector<int> layers = options.layers;
  if (layers.empty()) layers = parse_layer_list("all", c.n_layers);
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  for (int l : layers)
    if (l < 0 || l >= c.n_layers)
      fail("capture: layer " + std::to_string(l) + " is out of range: the model has " + std::to_string(c.n_layers) +
               " layers",
           "layers are 0-based: 0.." + std::to_string(c.n_layers - 1));
  const CapturePositions& pos = options.positions;
  using PK = PositionSelector::Kind;
  if (pos.select.kind == PK::kExplicit && pos.select.indices.empty()) fail("capture: no position given");
  if ((pos.reduce == CapturePositions::Reduce::kEach) != (pos.select.kind == PK::kExplicit) ||
      pos.select.kind == PK::kGenerated)
    fail("capture: positions " + pos.select.to_string() + " cannot be read " +
             (pos.reduce == CapturePositions::Reduce::kEach ? "one row each" : "as a mean"),
         "read explicit indices one row each, prompt or after-instruction as a mean");
  check_positions(prompts, pos);

  const int64_t N = prompts.size(), P = pos.rows();
  Activations acts(options.sites, layers, pos, c.d_model, options.keep_examples);
  if (options.keep_examples) acts.reserve_examples(N);

  // What the hooks need to know about the batch being run.
  struct BatchInfo {
    std::vector<int64_t> rows;  // prompt index of each batch row
    at::Tensor gather;          // kExplicit: [B, P] slot of each wanted position
    at::Tensor weights;         // mean modes: [B, 1, T] float64, 1/count on the averaged slots
  } batch;

  if (hooks && hooks->n_layers() != c.n_layers)
    fail("capture: the hook set was made for " + std::to_string(hooks->n_layers()) + " layers but the model has " +
         std::to_string(c.n_layers));
  HookSet set = hooks ? *hooks : HookSet(c.n_layers);  // a copy: the caller's set is left as it was
  for (SiteKind s : options.sites)
    for (int l : layers)
      set.add({s, l}, [&acts, &batch, s, l, P](at::Tensor& x, const HookContext& ctx) {
        if (!ctx.prefill) return;
        at::Tensor rows;  // [B, P, d_model]
        if (batch.gather.defined()) {
          at::Tensor idx = batch.gather.unsqueeze(-1).expand({x.size(0), P, x.size(2)});
          rows = x.gather(1, idx);
        } else {
          rows = at::bmm(batch.weights, x.to(at::kDouble));  // [B, 1, d_model]
        }
        acts.add(s, l, rows, batch.rows);
      });

  // Each pass ends at the deepest site read: after the deepest layer's block, or before it when
  // only its input (resid_pre) is read, so that block never runs.
  const bool only_resid_pre = std::all_of(options.sites.begin(), options.sites.end(),
                                          [](SiteKind s) { return s == SiteKind::kResidPre; });
  const Site stop{only_resid_pre ? SiteKind::kResidPre : SiteKind::kResidPost, layers.back()};

  // The runner batches prompts of similar length; a batch's shared prefix (the template's system
  // prompt and user header) runs once, as one row with the caller's hooks, when no position read
  // lies in it, and its keys/values then serve every row.
  PrepareArgs prep;
  prep.prefix_hooks = hooks;
  prep.stop_after = stop;
  prep.share_prefix = options.share_prefix && pos.select.kind != PositionSelector::Kind::kPrompt;
  if (pos.select.kind == PositionSelector::Kind::kExplicit)
    for (int64_t i : pos.select.indices) i < 0 ? prep.keep_last = std::max(prep.keep_last, -i) : prep.max_prefix = std::min(prep.max_prefix, i);
  ForwardArgs fa;
  fa.hooks = &set;
  fa.logits = LogitsMode::kNone;
  fa.stop_after = stop;

  std::optional<Progress> bar;
  if (options.progress) bar.emplace(options.label, N, "prompts");
  auto before = [&](const PromptBatch& pb) {
    const BatchState& state = pb.state;
    const int64_t B = state.batch, T = pb.tokens.size(1), first_slot = state.length;
    batch.rows = pb.rows;
    batch.gather = at::Tensor();
    batch.weights = at::Tensor();
    if (pos.reduce == CapturePositions::Reduce::kEach) {
      batch.gather = at::empty({B, P}, at::kLong);
      auto g = batch.gather.accessor<int64_t, 2>();
      for (int64_t b = 0; b < B; ++b) {
        std::vector<int64_t> read = pos.select.prompt_positions(state.prompt_len[b], state.instruction_end[b]);
        for (int64_t p = 0; p < P; ++p) g[b][p] = state.slot(b, read[p]) - first_slot;
      }
    } else {
      batch.weights = at::zeros({B, 1, T}, at::kDouble);
      auto w = batch.weights.accessor<double, 3>();
      for (int64_t b = 0; b < B; ++b) {
        std::vector<int64_t> read = pos.select.prompt_positions(state.prompt_len[b], state.instruction_end[b]);
        for (int64_t t : read) w[b][0][state.slot(b, t) - first_slot] = 1.0 / double(read.size());
      }
    }
  };
  Runner(model, {options.batch_size}).run(prompts, fa, prep, [&](const PromptBatch& pb, const at::Tensor&) {
    acts.add_count(pb.state.batch);
    if (bar) bar->advance(pb.state.batch);
  }, before);
  if (bar) bar->finish();
  return acts;
}

}  // namespace steer
