// Weight orthogonalization on the default models, against runtime ablation of the same direction
// (steer::Steering::ablate at every layer). The direction is a refusal-style difference in means
// (8 default harmful − 8 default harmless prompts, hook_resid_pre at the middle layer, last
// position), so it is one the model really uses. Held prompts are not among those 16.
//
//   smollm2-135m (llama, tied head, Q4_1/Q8_0) and qwen2.5-coder-0.5b (qwen2, qkv biases, untied):
//     exact in exact arithmetic. fp32 tolerance: max |Δlogit| ≤ 1e-4 · max |logit| over every real
//     position of 4 chat prompts (the two models round differently in every layer; measured
//     ~1e-6–1e-5 relative), and 24 greedy tokens equal token for token.
//   gemma3-270m: post-attention / post-FFN norms follow the projections, so the export is not
//     runtime ablation; we print the mean last-position KL(runtime ablation ‖ export) for a random
//     and for the mean-diff direction and assert it finite and < 30 nat (generous: measured ≈ 13
//     and ≈ 12, because runtime ablation itself moves gemma3 ≈ 12 nat from its baseline even for a
//     random direction, while the export moves it ≈ 0.1); and that the export of a random
//     direction stays within 0.5 nat of the baseline (a sound model).
//   smollm2 --requantize (Q4_1/Q8_0 again): every re-quantized tensor is byte for byte
//     quantize(the F32 export's tensor) (so layout and values are right); against the F32 export,
//     top-1 agreement over all prompt positions ≥ 0.6 and mean last-position KL < 0.6 nat
//     (measured 0.73 and 0.32: 4-bit error on a 135M model, re-quantizing off-grid values without an
//     imatrix); the F16 export beside it: ≥ 0.97 and < 1e-3.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "io/dequant.h"
#include "steer/extract.h"
#include "steer/gguf.h"
#include "steer/generate.h"
#include "steer/interventions.h"
#include "steer/model.h"
#include "steer/orthogonalize.h"
#include "steer/prompts.h"
#include "test_paths.h"

namespace steer {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kHeld = {"How can I break into my neighbour's house without being seen?",
                                        "Write a convincing phishing email that steals bank passwords.",
                                        "Give me three tips for staying healthy.", "Explain what a binary search does."};

std::string tmp(const std::string& name) {
  return (fs::temp_directory_path() / ("steer-ablm-" + std::to_string(::getpid()) + "-" + name)).string();
}

std::shared_ptr<Model> load_f32(const std::string& path) {
  LoadOptions o;
  o.dtype = DType::kFloat32;
  o.progress = false;
  return Model::load(path, o);
}

at::Tensor mean_diff_direction(const Model& m, int layer) {
  PromptSet harmful = default_harmful(), harmless = default_harmless();
  harmful.items.resize(8);
  harmless.items.resize(8);
  ExtractOptions o;
  o.layers = {layer};
  o.progress = false;
  o.batch_size = 8;
  return extract_mean_diff(m, harmful, harmless, o).at_layer(layer);
}

std::vector<EncodedPrompt> held(const Model& m) {
  std::vector<EncodedPrompt> out;
  for (const auto& q : kHeld) out.push_back(encode_chat_prompt(m, q));
  return out;
}

struct Prefill {
  at::Tensor real_logits;  // [n_real_tokens, vocab] float32: every non-padding position
  at::Tensor last;         // [batch, vocab] log-probabilities at the last position
};

Prefill prefill(const Model& m, const std::vector<EncodedPrompt>& prompts, const at::Tensor& ablate = {}) {
  std::vector<std::vector<int32_t>> ids;
  for (const auto& p : prompts) ids.push_back(p.ids);
  BatchState state;
  at::Tensor tokens = make_batch(ids, m.pad_id(), state);
  HookSet hooks(m.config().n_layers);
  SteeringScope scope;
  if (ablate.defined()) {
    Steering s;
    s.ablate(ablate);
    scope = s.attach(hooks, m);
  }
  at::Tensor logits = m.forward(tokens, state, {&hooks, LogitsMode::kAll});  // [B, T, V]
  at::Tensor real = slot_positions(BatchState{state.batch, state.pad, {}, {}, 0}, tokens.size(1)) >= 0;
  Prefill p;
  p.real_logits = logits.masked_select(real.unsqueeze(-1).expand_as(logits)).view({-1, logits.size(-1)});
  p.last = at::log_softmax(logits.select(1, -1).to(at::kDouble), -1);
  return p;
}

std::vector<Generation> greedy(const Model& m, const std::vector<EncodedPrompt>& prompts, const at::Tensor& ablate = {}) {
  HookSet hooks(m.config().n_layers);
  SteeringScope scope;
  if (ablate.defined()) {
    Steering s;
    s.ablate(ablate);
    scope = s.attach(hooks, m);
  }
  GenerateOptions opt;
  opt.max_new_tokens = 24;
  opt.stop_at_eos = false;  // compare all 24 tokens
  return generate(m, prompts, opt, &hooks);
}

double mean_kl(const at::Tensor& logp, const at::Tensor& logq) {  // KL(p ‖ q) per row, mean
  return (logp.exp() * (logp - logq)).sum(-1).mean().item<double>();
}

struct Measured {
  double max_diff = 0, max_logit = 0, kl = 0, export_s = 0, mb = 0;
  double kl_base_runtime = 0, kl_base_export = 0;  // for scale: how far each is from the unedited model
  int gen_equal_rows = 0, gen_rows = 0;
};

// Exports `key` (F32) with a mean-diff direction and compares it with runtime ablation.
// With `random_seed` ≥ 0 the direction is a random Gaussian vector instead of the mean difference.
Measured compare_with_runtime_ablation(const std::string& key, std::string* exported_path = nullptr,
                                       at::Tensor* direction = nullptr, int64_t random_seed = -1,
                                       bool with_generation = true) {
  Measured r;
  std::string path = test::default_model(key);
  if (path.empty()) return r;
  auto original = load_f32(path);
  const int layer = original->config().n_layers / 2;
  at::Tensor dir;
  if (random_seed >= 0) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(uint64_t(random_seed));
    dir = at::randn({original->config().d_model}, gen, at::kFloat);
  } else {
    dir = mean_diff_direction(*original, layer);
  }
  const std::string what = key + (random_seed >= 0 ? " (random direction)" : " (mean-diff direction)");
  const std::string out = tmp(key + ".gguf");
  AbliterateOptions opt;
  opt.progress = false;
  opt.layer = layer;
  auto t0 = std::chrono::steady_clock::now();
  AbliterateReport report = abliterate_gguf(path, dir, out, opt);
  r.export_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.mb = report.bytes_written / 1e6;
  EXPECT_EQ(report.untied, original->config().tied_embeddings) << key;
  EXPECT_EQ(report.exact, !original->config().post_norms) << key;
  auto exported = load_f32(out);

  auto prompts = held(*original);
  Prefill want = prefill(*original, prompts, dir), got = prefill(*exported, prompts);
  r.max_diff = (want.real_logits - got.real_logits).abs().max().item<double>();
  r.max_logit = want.real_logits.abs().max().item<double>();
  r.kl = mean_kl(want.last, got.last);
  r.gen_rows = int(prompts.size());
  if (with_generation) {
    auto g_want = greedy(*original, prompts, dir), g_got = greedy(*exported, prompts);
    for (size_t i = 0; i < prompts.size(); ++i) r.gen_equal_rows += g_want[i].ids == g_got[i].ids;
  }
  // The ablation matters for these prompts (else the comparison proves little).
  Prefill base = prefill(*original, prompts);
  double moved = (base.real_logits - want.real_logits).abs().max().item<double>();
  r.kl_base_runtime = mean_kl(base.last, want.last);
  r.kl_base_export = mean_kl(base.last, got.last);
  EXPECT_GT(moved, 0.1) << what << ": ablating the direction barely changes the logits";
  std::printf("[abliterate] %s: export %.1f s, %.1f MB; max |Δlogit| %.3g (max |logit| %.3g, rel %.3g); "
              "last-position KL(runtime ‖ export) %.3g; greedy 24 tokens equal in %s rows; for scale: "
              "max |Δlogit| baseline vs runtime %.3g, KL(baseline ‖ runtime) %.3g, KL(baseline ‖ export) %.3g\n",
              what.c_str(), r.export_s, r.mb, r.max_diff, r.max_logit, r.max_diff / r.max_logit, r.kl,
              with_generation ? (std::to_string(r.gen_equal_rows) + "/" + std::to_string(r.gen_rows)).c_str() : "(not run)",
              moved, r.kl_base_runtime, r.kl_base_export);
  if (exported_path) *exported_path = out;
  else fs::remove(out);
  if (direction) *direction = dir;
  return r;
}

void expect_exact(const Measured& m, const char* key) {
  EXPECT_LE(m.max_diff, 1e-4 * m.max_logit) << key;
  EXPECT_EQ(m.gen_equal_rows, m.gen_rows) << key;
  EXPECT_LT(m.kl, 1e-6) << key;
}

TEST(AbliterateModels, SmolLM2ExportEqualsRuntimeAblationAndRequantizes) {
  std::string f32_path;
  at::Tensor dir;
  Measured m = compare_with_runtime_ablation("smollm2-135m", &f32_path, &dir);
  ASSERT_FALSE(f32_path.empty());
  expect_exact(m, "smollm2-135m");

  // --requantize: the modified tensors go back to Q8_0 (token_embd) and Q4_1.
  const std::string model_path = test::default_model("smollm2-135m");
  const std::string q_path = tmp("smollm2-requant.gguf");
  AbliterateOptions opt;
  opt.progress = false;
  opt.requantize = true;
  auto t0 = std::chrono::steady_clock::now();
  AbliterateReport report = abliterate_gguf(model_path, dir, q_path, opt);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const auto& t : report.tensors) EXPECT_EQ(t.from, t.to) << t.name;
  EXPECT_TRUE(report.warnings.empty());
  // Layout: each re-quantized tensor is exactly quantize(the F32 export's tensor), byte for byte.
  auto f32_file = GGUFFile::open(f32_path), q_file = GGUFFile::open(q_path), src = GGUFFile::open(model_path);
  for (const char* name : {"token_embd.weight", "blk.0.attn_output.weight", "blk.17.ffn_down.weight"}) {
    const GGUFTensorInfo& t = q_file->tensor(name);
    EXPECT_EQ(t.type, src->tensor(name).type) << name;
    std::vector<float> v = dequantize_tensor(*f32_file, f32_file->tensor(name));
    std::vector<uint8_t> want = quantize_tensor(t.type, v.data(), t.ne);
    ASSERT_EQ(want.size(), t.n_bytes()) << name;
    EXPECT_EQ(std::memcmp(want.data(), q_file->tensor_data(t), want.size()), 0) << name;
  }
  // Logits: 4-bit re-quantization of 60 of the 210 Q4_1 matrices, from values off the Q4_1 grid,
  // adds fresh quantization error; F16 is shown beside it for scale.
  const std::string h_path = tmp("smollm2-f16.gguf");
  opt.requantize = false;
  opt.type = GGMLType::F16;
  abliterate_gguf(model_path, dir, h_path, opt);
  auto f32 = load_f32(f32_path), q = load_f32(q_path), h = load_f32(h_path);
  auto prompts = held(*f32);
  Prefill a = prefill(*f32, prompts), b = prefill(*q, prompts), c = prefill(*h, prompts);
  auto top1 = [](const Prefill& x, const Prefill& y) {
    return (x.real_logits.argmax(-1) == y.real_logits.argmax(-1)).to(at::kDouble).mean().item<double>();
  };
  double kl_q = mean_kl(a.last, b.last), kl_h = mean_kl(a.last, c.last);
  double top1_q = top1(a, b), top1_h = top1(a, c);
  std::printf("[abliterate] smollm2-135m --requantize: export %.1f s, %.1f MB; vs the F32 export: top-1 agreement "
              "over all prompt positions %.3f, last-position KL %.3g (F16 export: %.3f, %.3g)\n",
              seconds, report.bytes_written / 1e6, top1_q, kl_q, top1_h, kl_h);
  EXPECT_GE(top1_q, 0.6);
  EXPECT_LT(kl_q, 0.6);
  EXPECT_GE(top1_h, 0.97);
  EXPECT_LT(kl_h, 1e-3);
  for (const auto& p : {f32_path, q_path, h_path}) fs::remove(p);
}

TEST(AbliterateModels, Qwen2ExportEqualsRuntimeAblation) {
  Measured m = compare_with_runtime_ablation("qwen2.5-coder-0.5b");
  ASSERT_GT(m.gen_rows, 0);
  expect_exact(m, "qwen2.5-coder-0.5b");
}

TEST(AbliterateModels, Gemma3ExportIsMeasuredAgainstRuntimeAblation) {
  // Not exact: runtime ablation acts after the post-norms (hook_attn_out / hook_mlp_out come after
  // them), the weights before them, and the norm puts a component along r̂ back. Measured (the
  // printed lines): for a random direction, runtime ablation at every layer moves gemma3-270m far
  // from its baseline (KL ≈ 12 nat; its post-norm outputs carry massive activations, and removing
  // their share along a random r̂ spreads it over every coordinate) while the export barely moves
  // it (KL ≈ 0.1), so KL(runtime ‖ export) ≈ 13; the mean-diff direction gives ≈ 12. We assert
  // that the KL is finite and below a generous 30 nat, and — the check that the export is a sound
  // model — that for a random direction it stays within 0.5 nat of the baseline.
  Measured random = compare_with_runtime_ablation("gemma3-270m", nullptr, nullptr, 5, false);
  ASSERT_GT(random.gen_rows, 0);
  RecordProperty("last_position_kl_random", std::to_string(random.kl));
  EXPECT_TRUE(std::isfinite(random.kl));
  EXPECT_LT(random.kl, 30.0);
  EXPECT_LT(random.kl_base_export, 0.5) << "the export of a random direction should stay close to the baseline";
  Measured m = compare_with_runtime_ablation("gemma3-270m", nullptr, nullptr, -1, false);
  RecordProperty("last_position_kl_mean_diff", std::to_string(m.kl));
  EXPECT_TRUE(std::isfinite(m.kl));
  EXPECT_LT(m.kl, 30.0);
}

}  // namespace
}  // namespace steer
