// Direction extraction: difference in means (incl. Arditi et al.'s refusal candidates), CAA's
// paired A/B difference at the answer letter, and PCA of paired differences. Every method is
// capture() (float64 sums / float32 examples) plus a little arithmetic in float64.
#include "steer/extract.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "steer/error.h"
#include "steer/chat_template.h"
#include "steer/generate.h"
#include "steer/tokenizer.h"
#include "steering/extract_texts.h"

namespace steer {
namespace {

CaptureOptions capture_options(const ExtractOptions& o, const std::string& label, bool keep_examples) {
  CaptureOptions c;
  c.sites = {o.site};
  c.layers = o.layers;
  c.positions = o.positions;
  c.keep_examples = keep_examples;
  c.batch_size = o.batch_size;
  c.progress = o.progress;
  c.label = label;
  return c;
}

void fill_positions(DirectionMeta& meta, const CapturePositions& pos) {
  if (pos.reduce == CapturePositions::Reduce::kEach) meta.positions = pos.select.indices;
  meta.extra["positions"] = pos.to_string();
}

// [d] float64 per layer → a DirectionSet (float32) with the given metadata.
DirectionSet to_set(DirectionMeta meta, const std::vector<int>& layers, const std::vector<at::Tensor>& vectors) {
  std::map<int, at::Tensor> out;
  for (size_t i = 0; i < layers.size(); ++i) out.emplace(layers[i], vectors[i].to(at::kFloat));
  return DirectionSet(std::move(meta), std::move(out));
}

void check_nonempty(const std::vector<EncodedPrompt>& p, const char* what, const char* method) {
  if (p.empty()) fail(std::string(method) + ": the " + what + " set is empty");
}

// The same prompts on both sides (in any order) give zero vectors: refuse before the work.
void check_sets_differ(const std::vector<EncodedPrompt>& a, const std::vector<EncodedPrompt>& b, const char* method) {
  if (a.size() != b.size()) return;
  std::vector<std::vector<int32_t>> x, y;
  for (const auto& p : a) x.push_back(p.ids);
  for (const auto& p : b) y.push_back(p.ids);
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  if (x == y)
    fail(std::string(method) + ": the positive and negative prompts are the same " + std::to_string(a.size()) +
             " prompt(s), so every vector would be zero",
         "give two different prompt sets (--positive FILE --negative FILE)");
}

}  // namespace

void add_dataset(DirectionMeta& meta, const std::string& role, const std::string& name, const std::string& sha) {
  std::string key = name.empty() ? role : name;
  if (meta.datasets.count(key)) key = role + ":" + key;
  meta.datasets[key] = sha;
}

Normalize parse_normalize(const std::string& text, const std::string& option) {
  if (text == "none") return Normalize::kNone;
  if (text == "unit") return Normalize::kUnit;
  fail(option + ": unknown normalization '" + text + "'", "use none or unit");
}

const char* normalize_name(Normalize n) { return n == Normalize::kUnit ? "unit" : "none"; }

DirectionMeta model_direction_meta(const Model& model, SiteKind site, const std::string& method) {
  const ModelConfig& c = model.config();
  DirectionMeta m;
  const std::string file = std::filesystem::path(model.path()).filename().string();
  m.model = c.name.empty() ? std::filesystem::path(model.path()).stem().string() : c.name;
  m.model_arch = c.arch;
  m.n_layers = c.n_layers;
  m.d_model = c.d_model;
  m.site = site;
  m.method = method;
  m.version = STEER_VERSION;
  m.extra["model_file"] = file;
  return m;
}

DirectionSet apply_normalize(const DirectionSet& set, Normalize n) {
  if (n == Normalize::kNone) {
    DirectionSet out = set;
    out.meta().extra["normalize"] = "none";
    return out;
  }
  DirectionSet out = set.normalized();
  out.meta().extra["normalize"] = "unit";
  return out;
}

std::vector<DirectionSet> rescale_to_mean_norm(const std::vector<DirectionSet>& sets) {
  if (sets.empty()) return {};
  const std::vector<int> layers = sets[0].layers();
  for (size_t i = 1; i < sets.size(); ++i)
    if (sets[i].layers() != layers)
      fail("rescale to mean norm: set " + std::to_string(i) + " has other layers than set 0",
           "restrict every set to the same layers first (only_layers)");
  std::map<int, double> mean_norm;
  for (int l : layers) {
    double total = 0;
    for (const auto& s : sets) total += s.at_layer(l).to(at::kDouble).norm().item<double>();
    mean_norm[l] = total / double(sets.size());
  }
  std::vector<DirectionSet> out;
  for (const auto& s : sets) {
    std::map<int, at::Tensor> v;
    for (int l : layers) {
      at::Tensor x = s.at_layer(l).to(at::kDouble);
      double n = x.norm().item<double>();
      if (!(n > 0)) fail("rescale to mean norm: a vector at layer " + std::to_string(l) + " is zero");
      v.emplace(l, (x * (mean_norm[l] / n)).to(at::kFloat));
    }
    DirectionMeta meta = s.meta();
    meta.extra["normalize"] = "mean-norm";
    out.emplace_back(std::move(meta), std::move(v));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// difference in means

at::Tensor mean_difference(const Activations& positive, const Activations& negative, SiteKind site,
                           const std::vector<int>& layers) {
  if (!(positive.positions() == negative.positions()))
    fail("mean difference: the two captures read different positions (" + positive.positions().to_string() +
         " vs " + negative.positions().to_string() + ")");
  if (positive.d_model() != negative.d_model())
    fail("mean difference: d_model differs: " + std::to_string(positive.d_model()) + " vs " +
         std::to_string(negative.d_model()));
  std::vector<at::Tensor> per_layer;
  for (int l : layers) per_layer.push_back(positive.mean(site, l) - negative.mean(site, l));  // [P, d]
  return at::stack(per_layer, 1);  // [P, L, d] float64
}

DirectionSet extract_mean_diff(const Model& model, const std::vector<EncodedPrompt>& positive,
                               const std::vector<EncodedPrompt>& negative, const ExtractOptions& options) {
  check_nonempty(positive, "positive", "mean-diff");
  check_nonempty(negative, "negative", "mean-diff");
  check_sets_differ(positive, negative, "mean-diff");
  Activations pos = capture(model, positive, capture_options(options, "positive", false));
  Activations neg = capture(model, negative, capture_options(options, "negative", false));
  const std::vector<int>& layers = pos.layers();
  at::Tensor diff = mean_difference(pos, neg, options.site, layers);  // [P, L, d]
  at::Tensor per_layer = diff.mean(0);                                 // [L, d]: mean over positions
  std::vector<at::Tensor> vectors;
  for (size_t i = 0; i < layers.size(); ++i) vectors.push_back(per_layer[i]);
  DirectionMeta meta = model_direction_meta(model, options.site, "mean-diff");
  fill_positions(meta, options.positions);
  meta.extra["n_positive"] = positive.size();
  meta.extra["n_negative"] = negative.size();
  return apply_normalize(to_set(std::move(meta), layers, vectors), options.normalize);
}

DirectionSet extract_mean_diff_texts(const Model& model, const std::vector<std::string>& positive,
                                     const std::vector<std::string>& negative, const ExtractOptions& options) {
  return extract_mean_diff(model, encode_prompts(model, positive, options.raw, options.system),
                           encode_prompts(model, negative, options.raw, options.system), options);
}

DirectionSet RefusalCandidates::at_position(int64_t position) const {
  for (size_t p = 0; p < positions.size(); ++p) {
    if (positions[p] != position) continue;
    std::map<int, at::Tensor> v;
    for (int64_t l = 0; l < directions.size(1); ++l) v.emplace(int(l), directions[p][l].to(at::kFloat));
    DirectionMeta m = meta;
    m.positions = {position};
    m.extra["positions"] = std::to_string(position);
    return DirectionSet(std::move(m), std::move(v));
  }
  std::string have;
  for (int64_t p : positions) have += (have.empty() ? "" : ",") + std::to_string(p);
  fail("refusal candidates: no candidate at position " + std::to_string(position) + " (positions " + have + ")");
}

RefusalCandidates refusal_candidates(const Model& model, const std::vector<std::string>& harmful,
                                     const std::vector<std::string>& harmless, int batch_size, bool progress) {
  if (harmful.empty() || harmless.empty()) fail("refusal candidates: a prompt set is empty");
  std::vector<EncodedPrompt> pos = encode_prompts(model, harmful), neg = encode_prompts(model, harmless);
  // The post-instruction tail is the template's text after the instruction: the same tokens
  // for every prompt, so its length k is too.
  const int64_t k = int64_t(pos[0].ids.size()) - pos[0].instruction_end;
  for (const auto* set : {&pos, &neg})
    for (size_t i = 0; i < set->size(); ++i) {
      int64_t ki = int64_t((*set)[i].ids.size()) - (*set)[i].instruction_end;
      if (ki != k)
        fail("refusal candidates: prompt " + std::to_string(i) + " has a post-instruction tail of " +
                 std::to_string(ki) + " tokens, the first has " + std::to_string(k),
             "the chat template's tail should tokenize the same way for every prompt");
    }
  if (k < 1) fail("refusal candidates: the chat template has no post-instruction tokens");
  ExtractOptions o;
  o.site = SiteKind::kResidPre;
  o.batch_size = batch_size;
  o.progress = progress;
  std::vector<int64_t> positions;
  for (int64_t i = -k; i < 0; ++i) positions.push_back(i);
  o.positions = CapturePositions::explicit_indices(positions);
  Activations a = capture(model, pos, capture_options(o, "harmful", false));
  Activations b = capture(model, neg, capture_options(o, "harmless", false));
  RefusalCandidates out;
  out.directions = mean_difference(a, b, SiteKind::kResidPre, a.layers());
  out.positions = positions;
  out.meta = model_direction_meta(model, SiteKind::kResidPre, "mean-diff");
  out.meta.positions = positions;
  out.meta.extra["n_positive"] = harmful.size();
  out.meta.extra["n_negative"] = harmless.size();
  out.meta.extra["normalize"] = "none";
  return out;
}

// ---------------------------------------------------------------------------------------------
// CAA

ExtractOptions caa_options() {
  ExtractOptions o;
  o.site = SiteKind::kResidPost;
  o.positions = CapturePositions::explicit_indices({-2});
  return o;
}

EncodedPrompt encode_ab_prompt(const Model& model, const std::string& question, const std::string& answer,
                               const std::string& system) {
  std::vector<ChatMessage> messages;
  if (!system.empty()) messages.push_back({"system", system});
  messages.push_back({"user", question});
  // The answer continues the generation prompt, as if the model had started its turn with it.
  RenderedChat chat = model.chat_template().render(messages, /*add_generation_prompt=*/true);
  chat.post_instruction += answer;
  int post_len = 0;
  EncodedPrompt p;
  p.ids = encode_chat(model.tokenizer(), chat, &post_len);
  p.instruction_end = int64_t(p.ids.size()) - post_len;
  return p;
}

DirectionSet extract_caa(const Model& model, const std::vector<EncodedPrompt>& matching,
                         const std::vector<EncodedPrompt>& not_matching, const ExtractOptions& options) {
  check_nonempty(matching, "matching", "caa");
  if (matching.size() != not_matching.size())
    fail("caa: " + std::to_string(matching.size()) + " matching prompts but " +
         std::to_string(not_matching.size()) + " not matching", "CAA pairs each question's two answers");
  check_sets_differ(matching, not_matching, "caa");
  // mean(matching − not matching) = mean(matching) − mean(not matching) for paired sets of
  // equal size, so two float64 sums serve and no example is kept.
  DirectionSet set = extract_mean_diff(model, matching, not_matching, options);
  set.meta().method = "caa";
  set.meta().extra["n_pairs"] = matching.size();
  set.meta().extra.erase("n_positive");
  set.meta().extra.erase("n_negative");
  return set;
}

DirectionSet extract_caa_texts(const Model& model, const std::vector<ABText>& items, const ExtractOptions& options) {
  std::vector<EncodedPrompt> m, n;
  for (const ABText& item : items) {
    m.push_back(encode_ab_prompt(model, item.question, item.matching, options.system));
    n.push_back(encode_ab_prompt(model, item.question, item.not_matching, options.system));
  }
  return extract_caa(model, m, n, options);
}

// ---------------------------------------------------------------------------------------------
// PCA

at::Tensor first_principal_component(const at::Tensor& diffs, double* explained) {
  if (diffs.dim() != 2 || diffs.size(0) < 2)
    fail("pca: needs at least 2 paired differences [n, d], got " +
         (diffs.dim() == 2 ? std::to_string(diffs.size(0)) + " rows" : std::to_string(diffs.dim()) + "-d data"));
  at::Tensor x = diffs.to(at::kDouble);
  at::Tensor mean = x.mean(0);                                // [d]
  at::Tensor centred = x - mean;                              // [n, d]
  auto svd = at::linalg_svd(centred, /*full_matrices=*/false);
  at::Tensor s = std::get<1>(svd);                            // [min(n, d)] descending
  at::Tensor v = std::get<2>(svd)[0].clone();                 // [d] unit
  double total = (s * s).sum().item<double>();
  if (!(total > 0) || !std::isfinite(total))
    fail("pca: the paired differences have no variance around their mean (or are not finite)",
         "PCA needs pairs that differ in different ways; use mean-diff instead");
  if (explained) *explained = (s[0] * s[0]).item<double>() / total;
  if (at::dot(mean, v).item<double>() < 0) v = -v;           // positives project higher on average
  return v;
}

DirectionSet extract_pca(const Model& model, const std::vector<EncodedPrompt>& positive,
                         const std::vector<EncodedPrompt>& negative, const ExtractOptions& options) {
  check_nonempty(positive, "positive", "pca");
  if (positive.size() != negative.size())
    fail("pca: " + std::to_string(positive.size()) + " positive prompts but " + std::to_string(negative.size()) +
             " negative",
         "PCA of paired differences pairs positive[i] with negative[i]: give sets of equal size");
  check_sets_differ(positive, negative, "pca");
  Activations pos = capture(model, positive, capture_options(options, "positive", true));
  Activations neg = capture(model, negative, capture_options(options, "negative", true));
  const std::vector<int>& layers = pos.layers();
  std::vector<at::Tensor> vectors;
  nlohmann::json explained = nlohmann::json::object();
  for (int l : layers) {
    at::Tensor d = pos.examples(options.site, l).to(at::kDouble).mean(1) -
                   neg.examples(options.site, l).to(at::kDouble).mean(1);  // [n, d_model]
    double share = 0;
    vectors.push_back(first_principal_component(d, &share));
    explained[std::to_string(l)] = share;
  }
  DirectionMeta meta = model_direction_meta(model, options.site, "pca");
  fill_positions(meta, options.positions);
  meta.extra["n_pairs"] = positive.size();
  meta.extra["explained_variance"] = explained;
  meta.extra["sign"] = "mean projection of positives > negatives";
  return apply_normalize(to_set(std::move(meta), layers, vectors), options.normalize);
}

DirectionSet extract_pca_texts(const Model& model, const std::vector<std::string>& positive,
                               const std::vector<std::string>& negative, const ExtractOptions& options) {
  return extract_pca(model, encode_prompts(model, positive, options.raw, options.system),
                     encode_prompts(model, negative, options.raw, options.system), options);
}

}  // namespace steer
