// Activation capture: run a list of prompts through the model in left-padded batches and
// collect, at chosen hook sites × layers × positions, running sums in float64 and a count —
// so memory does not grow with the number of prompts — and optionally every example's
// activations (float32) for PCA and plots.
//
//   steer::CaptureOptions opt;
//   opt.sites = {steer::SiteKind::kResidPre};
//   opt.layers = steer::parse_layer_list("all", model->config().n_layers);
//   opt.positions = steer::CapturePositions::parse("-5,-4,-3,-2,-1");
//   steer::Activations acts = steer::capture(*model, prompts, opt);
//   at::Tensor m = acts.mean(steer::SiteKind::kResidPre, 12);   // [5, d_model] float64
//
// Positions count within each prompt (padding excluded): 0 is its first token, −1 its last.
// Because prompts are left-padded, −k…−1 name the same template tokens in every row of a
// batch (for chat prompts: the post-instruction tail). The forward runs with
// LogitsMode::kNone and stops after the deepest layer asked for.
//
// Failure: steer::Error naming the prompt (0-based index), its length and the position when a
// position does not exist in a prompt; naming the site/layer when it is not captured or not
// capturable; naming the file for save/load.
#pragma once
#include <ATen/core/Tensor.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "steer/sites.h"
#include "steer/model.h"

namespace steer {

struct EncodedPrompt;  // steer/runner.h

// What a capture reads of each prompt: the positions a PositionSelector names (the vocabulary,
// rule and text form interventions use, steer/hooks.h) and how they become rows.
//   explicit indices, kEach        one row per index ("-5,-4,-1"; the same count in every prompt)
//   prompt / after-instruction,    one row per example: the mean over the tokens selected, whose
//     kMean                        count varies ("prompt", "after-instruction")
// `all` reads the same tokens as `prompt` (a capture runs prompts only); `generated` selects none.
struct CapturePositions {
  enum class Reduce { kEach, kMean };
  PositionSelector select = PositionSelector::explicit_indices({-1});
  Reduce reduce = Reduce::kEach;
  static CapturePositions explicit_indices(std::vector<int64_t> idx) {
    return {PositionSelector::explicit_indices(std::move(idx)), Reduce::kEach};
  }
  static CapturePositions prompt_mean() { return {PositionSelector::prompt(), Reduce::kMean}; }
  static CapturePositions after_instruction_mean() { return {PositionSelector::after_instruction(), Reduce::kMean}; }
  // PositionSelector::parse's text ("-5,-4,-1", "-5..-1", "prompt", "after-instruction", "all"),
  // and the older names "prompt-mean" and "after-instruction-mean". steer::Error naming the text
  // for anything else, `generated`, or an index listed twice.
  static CapturePositions parse(const std::string& text);
  int64_t rows() const { return reduce == Reduce::kEach ? int64_t(select.indices.size()) : 1; }  // n_pos
  // "-5,-4,-1", "prompt-mean", "after-instruction-mean": what files store (parse reads it back).
  std::string to_string() const;
  bool operator==(const CapturePositions& o) const { return select == o.select && reduce == o.reduce; }
};

// parse_layer_list ("all", "0-29", "3,5,7") is in steer/sites.h.

struct CaptureOptions {
  std::vector<SiteKind> sites = {SiteKind::kResidPre};  // per-layer [B,T,d_model] sites only
  std::vector<int> layers;       // empty: every layer
  CapturePositions positions;    // default: the last prompt token
  bool keep_examples = false;    // also keep every example's activations (float32)
  int batch_size = 16;
  // Run a batch's common prefix (e.g. the chat template's system prompt) once and share its
  // keys/values (Model::run_prefix). Needs `hooks` that act alike on every row; results equal
  // the unshared pass up to float rounding (the prefix runs at batch 1).
  bool share_prefix = true;
  bool progress = true;          // a progress bar with ETA on stderr
  std::string label = "capture";
};

// What a capture collected. Sums and counts merge exactly across shards (merge()).
class Activations {
 public:
  Activations() = default;
  Activations(std::vector<SiteKind> sites, std::vector<int> layers, CapturePositions positions, int d_model,
              bool keep_examples);

  int64_t count() const { return count_; }  // examples summed
  const std::vector<SiteKind>& sites() const { return sites_; }
  const std::vector<int>& layers() const { return layers_; }
  const CapturePositions& positions() const { return positions_; }
  int d_model() const { return d_model_; }
  bool has(SiteKind site, int layer) const;
  bool has_examples() const { return keep_examples_; }

  const at::Tensor& sum(SiteKind site, int layer) const;  // [n_pos, d_model] float64
  at::Tensor mean(SiteKind site, int layer) const;        // [n_pos, d_model] float64: sum / count
  // [count, n_pos, d_model] float32, in the order the prompts were given.
  const at::Tensor& examples(SiteKind site, int layer) const;

  // Adds another capture of the same sites, layers, positions and d_model (sums and counts
  // add; kept examples are appended). steer::Error naming what differs otherwise.
  void merge(const Activations& other);

  // Provenance written into the file (model, prompt set name and sha256, ...).
  nlohmann::json info = nlohmann::json::object();

  // Safetensors: "<site>.sum" F64 [n_pos, d_model] and, with examples, "<site>" F32
  // [count, n_pos, d_model] for every site × layer (site = blocks.L.hook_…); metadata
  // "steer.activations" = {count, sites, layers, positions, d_model, info}. Atomic write.
  void save(const std::string& path) const;
  static Activations load(const std::string& path);

  // Used by capture(): adds `rows` [B, n_pos, d_model] (any float dtype) of examples whose
  // positions in the prompt list are `indices` (kept examples go there).
  void add(SiteKind site, int layer, const at::Tensor& rows, const std::vector<int64_t>& indices);
  void add_count(int64_t n) { count_ += n; }
  void reserve_examples(int64_t n);  // allocates [n, n_pos, d_model] per site × layer

 private:
  using Key = std::pair<int, int>;  // (SiteKind, layer)
  static Key key(SiteKind s, int l) { return {int(s), l}; }
  const at::Tensor& find(const std::map<Key, at::Tensor>& m, SiteKind site, int layer, const char* what) const;

  std::vector<SiteKind> sites_;
  std::vector<int> layers_;
  CapturePositions positions_;
  int d_model_ = 0;
  bool keep_examples_ = false;
  int64_t count_ = 0;
  std::map<Key, at::Tensor> sums_;      // [n_pos, d_model] float64
  std::map<Key, at::Tensor> examples_;  // [n, n_pos, d_model] float32
};

// Runs `prompts` through `model` (batches of options.batch_size, grouped by length to waste
// little on padding) and captures as `options` says. `hooks` (optional) are applied during
// the pass too — e.g. to capture under an intervention; the capture hooks run after them.
Activations capture(const Model& model, const std::vector<EncodedPrompt>& prompts, const CaptureOptions& options,
                    const HookSet* hooks = nullptr);

// Chat-formats each text (encode_chat_prompt) or, with raw, encodes it as is.
std::vector<EncodedPrompt> encode_prompts(const Model& model, const std::vector<std::string>& texts,
                                          bool raw = false, const std::string& system = "");
// encode_prompts then capture.
Activations capture_texts(const Model& model, const std::vector<std::string>& texts, const CaptureOptions& options,
                          bool raw = false, const std::string& system = "", const HookSet* hooks = nullptr);

}  // namespace steer
