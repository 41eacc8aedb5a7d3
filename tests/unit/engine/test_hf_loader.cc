// The Hugging Face directory loader against the GGUF loader, on stories260K: the HF directory
// in tests/data/hf/stories260K was written by transformers' save_pretrained from the same GGUF
// (tools/reference/export_hf_dirs.py), so config, tokenizer and logits must agree.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "steer/error.h"
#include "steer/gguf.h"
#include "steer/model.h"
#include "steer/tokenizer.h"
#include "test_paths.h"

namespace steer {

static std::shared_ptr<Model> load_f32(const std::string& path) {
  LoadOptions o;
  o.dtype = DType::kFloat32;
  o.progress = false;
  return Model::load(path, o);
}

TEST(HFLoader, Stories260KMatchesGGUF) {
  auto gguf = load_f32(test::tiny_model());
  auto hf = load_f32(test::test_data() + "/hf/stories260K");
  EXPECT_TRUE(gguf->config() == hf->config()) << gguf->config().to_json().dump() << "\n" << hf->config().to_json().dump();
  for (const char* text : {"Once upon a time", "Lily and Tom went to the park.", "  two  spaces"}) {
    auto a = gguf->tokenizer().encode(text, true), b = hf->tokenizer().encode(text, true);
    EXPECT_EQ(a, b) << text;
    BatchState s1, s2;
    at::Tensor la = gguf->forward(make_batch({a}, gguf->pad_id(), s1), s1, {nullptr, LogitsMode::kAll});
    at::Tensor lb = hf->forward(make_batch({a}, hf->pad_id(), s2), s2, {nullptr, LogitsMode::kAll});
    // Same float32 weights either way (transformers de-permuted Q/K, we do too): tight bound.
    EXPECT_LT((la - lb).abs().max().item<double>(), 1e-5) << text;
  }
}

TEST(HFLoader, ConfigFromGGUFEqualsConfigFromHF) {
  auto file = GGUFFile::open(test::tiny_model());
  ModelConfig a = config_from_gguf(*file);
  auto hf = load_f32(test::test_data() + "/hf/stories260K");
  EXPECT_TRUE(a == hf->config());
}

TEST(HFLoader, MissingConfigIsAClearError) {
  try {
    load_f32(test::test_data() + "/hf");
    FAIL() << "a directory without config.json loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
  }
}

}  // namespace steer
