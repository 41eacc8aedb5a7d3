// A safetensors export of a default model loads through the HF-directory path and gives the
// same logits as its GGUF. The weights are written by save_hf_weights (from the GGUF); config.json
// is the one transformers wrote for this model (tests/data/hf/smollm2-135m, from
// tools/reference/export_hf_dirs.py) and the tokenizer files the corrected ones of
// tests/data/tokenizer/hf/smollm2-135m (tools/reference/make_tokenizer_fixtures.py).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "models/export_hf.h"
#include "steer/generate.h"
#include "steer/model.h"
#include "steer/tokenizer.h"
#include "test_paths.h"

namespace steer {

TEST(HFExport, SmolLM2SafetensorsMatchesGGUF) {
  namespace fs = std::filesystem;
  std::string path = test::default_model("smollm2-135m");
  ASSERT_FALSE(path.empty());
  LoadOptions o;
  o.dtype = DType::kFloat32;
  o.progress = false;
  auto gguf = Model::load(path, o);

  fs::path dir = fs::temp_directory_path() / ("steer-hf-export-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(test::test_data() + "/hf/smollm2-135m/config.json", dir / "config.json", fs::copy_options::overwrite_existing);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"})
    fs::copy_file(test::test_data() + "/tokenizer/hf/smollm2-135m/" + f, dir / f, fs::copy_options::overwrite_existing);
  save_hf_weights(*gguf, (dir / "model.safetensors").string());
  auto hf = Model::load(dir.string(), o);

  EXPECT_TRUE(gguf->config() == hf->config());
  for (const char* q : {"What is the capital of France?", "Add 1234 and 5678, then write a haiku about rain."}) {
    auto a = encode_chat_prompt(*gguf, q), b = encode_chat_prompt(*hf, q);
    EXPECT_EQ(a.ids, b.ids) << q;
    EXPECT_EQ(a.instruction_end, b.instruction_end) << q;
    BatchState s1, s2;
    at::Tensor la = gguf->forward(make_batch({a.ids}, gguf->pad_id(), s1), s1);
    at::Tensor lb = hf->forward(make_batch({a.ids}, hf->pad_id(), s2), s2);
    EXPECT_TRUE(at::equal(la, lb)) << q << ": max diff " << (la - lb).abs().max().item<double>();
  }
  fs::remove_all(dir);
}

}  // namespace steer
