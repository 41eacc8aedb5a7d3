// Weight orthogonalization on the tiny model (stories260K: llama, F32, d_model 64, 5 layers,
// untied head): the exported model equals the original under runtime ablation, untouched tensors
// and metadata come through byte for byte, a tied head is untied, biases are orthogonalized, the
// Hugging Face directory path does the same, and gguf-py reads our file as we meant it.
//
// Tolerance (fp32): the two models round differently (x − (x·r̂)r̂ on activations vs on weights),
// so their logits differ by float32 rounding carried through 5 layers: we assert
// max |Δlogit| ≤ 1e-5 · max |logit| + 1e-5 (measured ≈ 1e-6 relative).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/sha256.h"
#include "io/dequant.h"
#include "steer/directions.h"
#include "steer/generate.h"
#include "steer/gguf.h"
#include "steer/gguf_writer.h"
#include "steer/interventions.h"
#include "steer/model.h"
#include "steer/orthogonalize.h"
#include "steer/safetensors.h"
#include "test_errors.h"
#include "test_paths.h"
#include "tiny_models.h"

namespace steer {
namespace {

namespace fs = std::filesystem;

// Files go into one temp directory per test process, removed at exit.
std::string tmp(const std::string& name) {
  struct Dir {
    fs::path path = fs::temp_directory_path() / ("steer-abl-" + std::to_string(::getpid()));
    Dir() { fs::create_directories(path); }
    ~Dir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static Dir dir;
  return (dir.path / name).string();
}

at::Tensor random_vector(int64_t d, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({d}, gen, at::kFloat);
}

// A fixed direction for the gguf-py fixture, independent of any random generator.
at::Tensor fixture_direction(int64_t d) {
  at::Tensor i = at::arange(d, at::kDouble);
  return (at::sin(0.61 * i + 0.3) + 0.25 * at::cos(1.7 * i)).to(at::kFloat);
}

std::shared_ptr<Model> load_f32(const std::string& path) {
  LoadOptions o;
  o.dtype = DType::kFloat32;
  o.progress = false;
  return Model::load(path, o);
}

const std::vector<std::string> kTexts = {"Once upon a time, there was a little girl named Lily.",
                                         "The cat sat on the mat and", "Tom and his dog went to the park to play"};

// Logits [batch, seq, vocab] of the prompts, optionally with r ablated at runtime everywhere.
at::Tensor logits(const Model& m, const at::Tensor& ablate = {}) {
  std::vector<std::vector<int32_t>> ids;
  for (const auto& t : kTexts) ids.push_back(encode_raw_prompt(m, t).ids);
  BatchState state;
  at::Tensor tokens = make_batch(ids, m.pad_id(), state);
  HookSet hooks(m.config().n_layers);
  SteeringScope scope;
  if (ablate.defined()) {
    Steering s;
    s.ablate(ablate);
    scope = s.attach(hooks, m);
  }
  at::Tensor out = m.forward(tokens, state, {&hooks, LogitsMode::kAll});
  // Only real tokens: padding slots are not compared.
  at::Tensor real = slot_positions(BatchState{state.batch, state.pad, {}, {}, 0}, tokens.size(1)) >= 0;
  return out.masked_select(real.unsqueeze(-1).expand_as(out));
}

void expect_equal_to_runtime_ablation(const Model& original, const Model& exported, const at::Tensor& r,
                                      const char* what) {
  at::Tensor want = logits(original, r), got = logits(exported);
  ASSERT_EQ(want.sizes(), got.sizes());
  double scale = want.abs().max().item<double>();
  double diff = (want - got).abs().max().item<double>();
  std::printf("[abliterate] %s: max |Δlogit| %.3g (max |logit| %.3g)\n", what, diff, scale);
  EXPECT_LE(diff, 1e-5 * scale + 1e-5) << what << ": max |Δlogit| " << diff << " (max |logit| " << scale << ")";
  // And the ablation did something, so the comparison means something.
  EXPECT_GT((logits(original) - want).abs().max().item<double>(), 100 * (diff + 1e-6)) << what;
}

bool same_bytes(const GGUFFile& a, const GGUFTensorInfo& ta, const GGUFFile& b, const GGUFTensorInfo& tb) {
  return ta.type == tb.type && ta.ne == tb.ne && ta.n_bytes() == tb.n_bytes() &&
         std::memcmp(a.tensor_data(ta), b.tensor_data(tb), ta.n_bytes()) == 0;
}

bool is_modified(const std::string& name) {
  return name == "token_embd.weight" || name.find("attn_output.") != std::string::npos ||
         name.find("ffn_down.") != std::string::npos;
}

TEST(Abliterate, RowsAndColumnsBecomeOrthogonalAndTheRestStays) {
  at::Tensor r = unit_direction(random_vector(48, 1));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(2);
  at::Tensor E = at::randn({100, 48}, gen, at::kFloat) * 3;  // [n, d]
  at::Tensor W = at::randn({48, 30}, gen, at::kFloat);       // [d, n]
  at::Tensor b = at::randn({48}, gen, at::kFloat);
  at::Tensor rf = r.to(at::kFloat);
  at::Tensor E2 = orthogonalize_rows(E, r), W2 = orthogonalize_cols(W, r), b2 = orthogonalize_rows(b, r);
  EXPECT_EQ(E2.scalar_type(), at::kFloat);
  EXPECT_LE(at::matmul(E2.to(at::kDouble), r).abs().max().item<double>(), 1e-6);
  EXPECT_LE(at::matmul(r, W2.to(at::kDouble)).abs().max().item<double>(), 1e-6);
  EXPECT_LE(std::abs(at::dot(b2.to(at::kDouble), r).item<double>()), 1e-6);
  // Only the component along r̂ changes: E − E2 = (E r̂) r̂ᵀ.
  EXPECT_TRUE(at::allclose(E - E2, at::outer(at::matmul(E, rf), rf), 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(W - W2, at::outer(rf, at::matmul(rf, W)), 1e-5, 1e-5));
  // Idempotent.
  EXPECT_TRUE(at::allclose(orthogonalize_rows(E2, r), E2, 1e-6, 1e-6));
  // Errors name the problem.
  EXPECT_NE(test::error_of([&] { unit_direction(at::zeros({4})); }).find("zero"), std::string::npos);
  EXPECT_NE(test::error_of([&] { orthogonalize_rows(E, unit_direction(random_vector(47, 3))); }).find("47"),
            std::string::npos);
}

TEST(Abliterate, GgufF32EqualsRuntimeAblationAndCopiesEverythingElse) {
  auto original = test::tiny();
  const at::Tensor r = random_vector(original->config().d_model, 11);
  const std::string out = tmp("tiny-abl.gguf");
  AbliterateOptions opt;
  opt.progress = false;
  opt.layer = 3;
  opt.direction_source = "random";
  AbliterateReport report = abliterate_gguf(test::tiny_model(), r, out, opt);
  EXPECT_FALSE(report.untied);  // stories260K has its own output.weight
  EXPECT_TRUE(report.exact);
  EXPECT_EQ(report.tensors.size(), 1u + 2u * original->config().n_layers);  // embedding, attn_output, ffn_down

  auto exported = load_f32(out);
  expect_equal_to_runtime_ablation(*original, *exported, r, "stories260K");

  auto src = GGUFFile::open(test::tiny_model()), dst = GGUFFile::open(out);
  ASSERT_EQ(src->tensors().size(), dst->tensors().size());
  for (size_t i = 0; i < src->tensors().size(); ++i) {
    const GGUFTensorInfo& a = src->tensors()[i];
    const GGUFTensorInfo& b = dst->tensors()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.ne, b.ne) << a.name;
    if (is_modified(a.name)) {
      EXPECT_EQ(b.type, GGMLType::F32) << a.name;
      EXPECT_FALSE(same_bytes(*src, a, *dst, b)) << a.name;
    } else {
      EXPECT_TRUE(same_bytes(*src, a, *dst, b)) << a.name << " changed";
    }
  }
  for (const auto& [key, value] : src->metadata()) {
    ASSERT_TRUE(dst->has(key)) << key;
    if (key == "general.name") EXPECT_EQ(dst->get_string(key), src->get_string(key) + " (abliterated)");
    else EXPECT_EQ(dst->get(key), value) << key;
  }
  EXPECT_EQ(dst->get_string("steer.abliterate.version"), STEER_VERSION);
  EXPECT_EQ(dst->get_string("steer.abliterate.source"), "stories260K.gguf");
  EXPECT_EQ(dst->get_string("steer.abliterate.direction_sha256"), report.direction_sha256);
  EXPECT_EQ(report.direction_sha256, sha256_hex(r.data_ptr<float>(), r.numel() * sizeof(float)));
  EXPECT_EQ(dst->get_int("steer.abliterate.layer"), 3);
  EXPECT_EQ(dst->get_string("steer.abliterate.direction_source"), "random");
  EXPECT_TRUE(dst->get_bool("steer.abliterate.exact"));
  EXPECT_FALSE(dst->get_bool("steer.abliterate.untied_output"));
  EXPECT_EQ(report.bytes_written, fs::file_size(out));
}

// A tied variant of the tiny model with o_proj biases, written with GGUFWriter: no output.weight,
// blk.N.attn_output.bias random. Exercises the untying and the bias rule.
std::string tied_with_biases() {
  static std::string path = [] {
    auto src = GGUFFile::open(test::tiny_model());
    GGUFWriter w;
    w.copy_metadata_from(*src);
    const int64_t d = src->get_int("llama.embedding_length");
    const int n_layers = int(src->get_int("llama.block_count"));
    for (const GGUFTensorInfo& t : src->tensors())
      if (t.name != "output.weight") w.add_tensor_from(src, t);
    for (int l = 0; l < n_layers; ++l) {
      at::Tensor b = random_vector(d, 100 + l) * 0.5;
      std::vector<uint8_t> bytes(d * sizeof(float));
      std::memcpy(bytes.data(), b.data_ptr<float>(), bytes.size());
      w.add_tensor("blk." + std::to_string(l) + ".attn_output.bias", {d}, GGMLType::F32, std::move(bytes));
    }
    std::string p = tmp("tiny-tied-bias.gguf");
    w.write(p);
    return p;
  }();
  return path;
}

TEST(Abliterate, TiedHeadIsUntiedWithTheOriginalEmbeddingAndBiasesAreOrthogonalized) {
  const std::string source = tied_with_biases();
  auto original = load_f32(source);
  ASSERT_TRUE(original->config().tied_embeddings);
  ASSERT_TRUE(original->weights().layers[0].bo.defined());
  const at::Tensor r = random_vector(original->config().d_model, 12);
  const std::string out = tmp("tiny-tied-abl.gguf");
  AbliterateOptions opt;
  opt.progress = false;
  AbliterateReport report = abliterate_gguf(source, r, out, opt);
  EXPECT_TRUE(report.untied);

  auto src = GGUFFile::open(source), dst = GGUFFile::open(out);
  ASSERT_TRUE(dst->find_tensor("output.weight"));
  EXPECT_TRUE(same_bytes(*src, src->tensor("token_embd.weight"), *dst, dst->tensor("output.weight")))
      << "output.weight must be the original embedding";
  EXPECT_TRUE(dst->get_bool("steer.abliterate.untied_output"));
  const at::Tensor r_hat = unit_direction(r);
  for (int l = 0; l < original->config().n_layers; ++l) {
    const GGUFTensorInfo& b = dst->tensor("blk." + std::to_string(l) + ".attn_output.bias");
    EXPECT_EQ(b.type, GGMLType::F32);
    at::Tensor v = at::from_blob(const_cast<uint8_t*>(dst->tensor_data(b)), {b.ne[0]}, at::kFloat).to(at::kDouble);
    EXPECT_LE(std::abs(at::dot(v, r_hat).item<double>()), 1e-6 * v.norm().item<double>()) << b.name;
  }
  auto exported = load_f32(out);
  EXPECT_FALSE(exported->weights().lm_head.is_same(exported->weights().embed)) << "the head is its own tensor now";
  expect_equal_to_runtime_ablation(*original, *exported, r, "tied + biases");
}

TEST(Abliterate, HalfTypesAndRequantizeWriteTheAskedTypes) {
  // A source with quantized tensors: token_embd Q8_0 and attn_output Q4_0 (ne[0] = 64 fits both
  // block sizes; ffn_down's 172 fits none and stays F32).
  auto tiny = GGUFFile::open(test::tiny_model());
  GGUFWriter w;
  w.copy_metadata_from(*tiny);
  for (const GGUFTensorInfo& t : tiny->tensors()) {
    GGMLType q = t.name == "token_embd.weight"                         ? GGMLType::Q8_0
                 : t.name.find("attn_output.weight") != std::string::npos ? GGMLType::Q4_0
                                                                          : GGMLType::F32;
    if (q == GGMLType::F32) {
      w.add_tensor_from(tiny, t);
    } else {
      std::vector<float> v = dequantize_tensor(*tiny, t);
      w.add_tensor(t.name, t.ne, q, quantize_tensor(q, v.data(), t.ne));
    }
  }
  const std::string source = tmp("tiny-quant.gguf");
  w.write(source);
  const at::Tensor r = random_vector(64, 13);
  AbliterateOptions opt;
  opt.progress = false;
  opt.requantize = true;
  const std::string requant = tmp("tiny-requant.gguf");
  abliterate_gguf(source, r, requant, opt);
  auto q = GGUFFile::open(requant);
  EXPECT_EQ(q->tensor("token_embd.weight").type, GGMLType::Q8_0);
  EXPECT_EQ(q->tensor("blk.0.attn_output.weight").type, GGMLType::Q4_0);
  EXPECT_EQ(q->tensor("blk.0.ffn_down.weight").type, GGMLType::F32);
  EXPECT_EQ(q->tensor("output.weight").type, GGMLType::F32);  // untouched
  // Re-quantized weights are the F32 export's up to the quantization error: logits stay close.
  opt.requantize = false;
  const std::string f32 = tmp("tiny-quant-f32.gguf");
  abliterate_gguf(source, r, f32, opt);
  at::Tensor a = logits(*load_f32(f32)), b = logits(*load_f32(requant));
  EXPECT_LE((a - b).abs().max().item<double>(), 0.1 * a.abs().max().item<double>());

  for (GGMLType t : {GGMLType::F16, GGMLType::BF16}) {
    opt.type = t;
    const std::string half = tmp("tiny-half.gguf");
    abliterate_gguf(test::tiny_model(), r, half, opt);
    auto h = GGUFFile::open(half);
    EXPECT_EQ(h->tensor("token_embd.weight").type, t);
    EXPECT_EQ(h->tensor("blk.2.ffn_down.weight").type, t);
    EXPECT_EQ(h->tensor("output.weight").type, GGMLType::F32);
    at::Tensor want = logits(*test::tiny(), r), got = logits(*load_f32(half));
    EXPECT_LE((want - got).abs().max().item<double>(), 0.05 * want.abs().max().item<double>()) << ggml_type_name(t);
  }
}

TEST(Abliterate, RequantizeFallsBackToF16ForATypeItCannotWrite) {
  // A model-shaped file whose embedding is Q2_K (which steer reads but cannot write). Q2_K blocks
  // hold 256 values, so d_model is 256 here; only the tensors abliteration touches are present.
  auto tiny = GGUFFile::open(test::tiny_model());
  GGUFWriter w;
  w.copy_metadata_from(*tiny);
  w.set_u32("llama.embedding_length", 256);
  w.set_u32("llama.rope.dimension_count", 32);
  const std::vector<int64_t> ne = {256, 512};
  w.add_tensor("token_embd.weight", ne, GGMLType::Q2_K, std::vector<uint8_t>(ggml_nbytes(GGMLType::Q2_K, ne), 0));
  w.add_tensor("output.weight", ne, GGMLType::F32, std::vector<uint8_t>(ggml_nbytes(GGMLType::F32, ne), 0));
  const std::string source = tmp("q2k.gguf"), out = tmp("q2k-abl.gguf");
  w.write(source);
  AbliterateOptions opt;
  opt.progress = false;
  opt.requantize = true;
  AbliterateReport report = abliterate_gguf(source, random_vector(256, 15), out, opt);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("token_embd.weight"), std::string::npos);
  EXPECT_NE(report.warnings[0].find("Q2_K"), std::string::npos);
  EXPECT_EQ(GGUFFile::open(out)->tensor("token_embd.weight").type, GGMLType::F16);
}

TEST(Abliterate, HfDirectoryEqualsRuntimeAblation) {
  const std::string source = test::test_data() + "/hf/stories260K";
  auto original = load_f32(source);
  const at::Tensor r = random_vector(original->config().d_model, 14);
  const std::string out = tmp("hf-out");
  fs::remove_all(out);
  AbliterateOptions opt;
  opt.progress = false;
  AbliterateReport report = abliterate_hf_dir(source, r, out + "/", opt);
  EXPECT_FALSE(report.untied);
  for (const char* f : {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"})
    EXPECT_TRUE(fs::exists(fs::path(out) / f)) << f;
  EXPECT_FALSE(fs::exists(out + ".tmp-" + std::to_string(::getpid())));
  auto st = SafetensorsFile::open(out + "/model.safetensors");
  EXPECT_EQ(st->metadata().at("steer.abliterate.direction_sha256"), report.direction_sha256);
  auto exported = load_f32(out);
  expect_equal_to_runtime_ablation(*original, *exported, r, "HF stories260K");
  // A second export to the same directory is refused, and the first one is left alone.
  EXPECT_NE(test::error_of([&] { abliterate_hf_dir(source, r, out, opt); }).find("already exists"), std::string::npos);
  EXPECT_TRUE(fs::exists(fs::path(out) / "model.safetensors"));
}

TEST(Abliterate, HfDirectoryWithATiedHeadIsUntied) {
  // The committed HF directory without lm_head.weight and with tie_word_embeddings = true.
  const fs::path src = test::test_data() + "/hf/stories260K";
  const fs::path tied = tmp("hf-tied");
  fs::create_directories(tied);
  auto st = SafetensorsFile::open((src / "model.safetensors").string());
  SafetensorsWriter w;
  for (const auto& t : st->tensors())
    if (t.name != "lm_head.weight") w.add_tensor_view(t.name, t.dtype, t.shape, st->tensor_data(t));
  w.write((tied / "model.safetensors").string());
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(src / f, tied / f);
  std::ifstream cin((src / "config.json").string());
  nlohmann::json config = nlohmann::json::parse(cin);
  config["tie_word_embeddings"] = true;
  std::ofstream((tied / "config.json").string()) << config.dump(2);

  auto original = load_f32(tied.string());
  ASSERT_TRUE(original->weights().lm_head.is_same(original->weights().embed));
  const at::Tensor r = random_vector(original->config().d_model, 16);
  const std::string out = tmp("hf-tied-out");
  AbliterateOptions opt;
  opt.progress = false;
  AbliterateReport report = abliterate_hf_dir(tied.string(), r, out, opt);
  EXPECT_TRUE(report.untied);
  std::ifstream oin(out + "/config.json");
  EXPECT_FALSE(nlohmann::json::parse(oin)["tie_word_embeddings"].get<bool>());
  auto exported_st = SafetensorsFile::open(out + "/model.safetensors");
  const auto& head = exported_st->tensor("lm_head.weight");
  const auto& embed = st->tensor("model.embed_tokens.weight");
  ASSERT_EQ(head.n_bytes(), embed.n_bytes());
  EXPECT_EQ(std::memcmp(exported_st->tensor_data(head), st->tensor_data(embed), head.n_bytes()), 0)
      << "lm_head.weight must be the original embedding";
  expect_equal_to_runtime_ablation(*original, *load_f32(out), r, "HF stories260K, tied");
}

TEST(Abliterate, BadInputsAreErrorsNamingTheProblem) {
  AbliterateOptions opt;
  opt.progress = false;
  const std::string out = tmp("never.gguf");
  EXPECT_NE(test::error_of([&] { abliterate_gguf(test::tiny_model(), random_vector(32, 1), out, opt); }).find("d_model 64"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { abliterate_gguf(test::tiny_model(), at::zeros({64}), out, opt); }).find("zero"),
            std::string::npos);
  opt.type = GGMLType::Q8_0;
  EXPECT_NE(test::error_of([&] { abliterate_gguf(test::tiny_model(), random_vector(64, 1), out, opt); }).find("Q8_0"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(out));
  EXPECT_NE(test::error_of([&] { parse_abliterate_type("q4", "--type"); }).find("--type"), std::string::npos);
  opt = {};
  opt.requantize = true;
  EXPECT_NE(test::error_of([&] {
              abliterate_hf_dir(test::test_data() + "/hf/stories260K", random_vector(64, 1), tmp("x"), opt);
            }).find("GGUF"),
            std::string::npos);
}

// gguf-py reads the abliterated file as we meant it: tools/reference/make_abliterate_fixture.py
// runs `steer abliterate` on stories260K with tests/data/abliterate/direction.safetensors and
// records what gguf-py reads (keys, types, scalar values, array lengths; tensor names, types,
// shapes and the sha256 of their bytes) in expected.json; this test writes the same file with the
// library and compares. STEER_WRITE_FIXTURES=1 (re)writes the direction file first.
TEST(Abliterate, MatchesWhatGgufPyReads) {
  const std::string dir = test::test_data() + "/abliterate";
  if (std::getenv("STEER_WRITE_FIXTURES")) {
    fs::create_directories(dir);
    DirectionMeta meta;
    meta.site = SiteKind::kResidPre;
    meta.d_model = 64;
    meta.n_layers = 5;
    meta.kind = "ablation";
    meta.method = "fixture";
    meta.model = "llama";
    meta.version = "fixture";
    save_directions(DirectionSet(meta, {{2, fixture_direction(64)}}), dir + "/direction.safetensors");
    GTEST_SKIP() << "wrote " << dir << "/direction.safetensors; now run tools/reference/make_abliterate_fixture.py";
  }
  DirectionSet set = load_directions(dir + "/direction.safetensors");
  ASSERT_EQ(set.layers(), std::vector<int>{2});
  ASSERT_TRUE(at::equal(set.at_layer(2), fixture_direction(64)));
  AbliterateOptions opt;
  opt.progress = false;
  opt.layer = 2;
  opt.direction_source = "direction.safetensors";
  const std::string out = tmp("fixture.gguf");
  abliterate_gguf(test::tiny_model(), set.at_layer(2), out, opt);

  std::ifstream in(dir + "/expected.json");
  ASSERT_TRUE(in) << "missing " << dir << "/expected.json (run tools/reference/make_abliterate_fixture.py)";
  nlohmann::json expected = nlohmann::json::parse(in);
  auto f = GGUFFile::open(out);
  const auto& fields = expected["fields"];
  ASSERT_EQ(f->metadata().size(), fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    const auto& [key, value] = f->metadata()[i];
    const auto& e = fields[i];
    ASSERT_EQ(key, e["name"].get<std::string>());
    EXPECT_EQ(gguf_value_type_name(value.type()), e["type"].get<std::string>()) << key;
    if (value.is_array()) {
      EXPECT_EQ(gguf_value_type_name(value.element_type()), e["element_type"].get<std::string>()) << key;
      EXPECT_EQ(value.size(), e["length"].get<size_t>()) << key;
    } else if (key == "steer.abliterate.version") {
      EXPECT_EQ(value.as_string(), STEER_VERSION);  // the fixture's may be older
    } else if (value.is_string()) {
      EXPECT_EQ(value.as_string(), e["value"].get<std::string>()) << key;
    } else if (value.is_bool()) {
      EXPECT_EQ(value.as_bool(), e["value"].get<bool>()) << key;
    } else if (value.is_float()) {
      EXPECT_EQ(value.as_float(), e["value"].get<double>()) << key;
    } else {
      EXPECT_EQ(value.as_int(), e["value"].get<int64_t>()) << key;
    }
  }
  const auto& tensors = expected["tensors"];
  ASSERT_EQ(f->tensors().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GGUFTensorInfo& t = f->tensors()[i];
    EXPECT_EQ(t.name, tensors[i]["name"].get<std::string>());
    EXPECT_EQ(ggml_type_name(t.type), tensors[i]["type"].get<std::string>()) << t.name;
    EXPECT_EQ(t.ne, tensors[i]["shape"].get<std::vector<int64_t>>()) << t.name;
    EXPECT_EQ(sha256_hex(f->tensor_data(t), t.n_bytes()), tensors[i]["sha256"].get<std::string>()) << t.name;
  }
}

}  // namespace
}  // namespace steer
