// The GGUF reader and writer on the three default models: facts cross-checked with gguf-py,
// and a copy made by our writer (all metadata + all tensors) is byte-identical to the file.
#include <gtest/gtest.h>

#include <cstring>

#include "io/mmap_file.h"
#include "steer/gguf.h"
#include "steer/gguf_writer.h"
#include "test_paths.h"

namespace steer {
namespace {

struct ModelFacts {
  const char* key;
  const char* arch;
  size_t n_kv;       // gguf-py GGUFReader: len(fields) - 3 (its GGUF.* pseudo-fields)
  size_t n_tensors;
};

class GGUFModelTest : public ::testing::TestWithParam<ModelFacts> {};

TEST_P(GGUFModelTest, ReadsAndCopiesByteForByte) {
  const ModelFacts m = GetParam();
  const std::string path = test::default_model(m.key);
  if (path.empty()) return;
  auto f = GGUFFile::open(path);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->get_string("general.architecture"), m.arch);
  EXPECT_EQ(f->metadata().size(), m.n_kv);
  EXPECT_EQ(f->tensors().size(), m.n_tensors);
  EXPECT_GT(f->get_strings("tokenizer.ggml.tokens").size(), 1000u);
  EXPECT_GT(f->get_int(std::string(m.arch) + ".block_count"), 0);

  GGUFWriter w;
  w.copy_metadata_from(*f);
  w.copy_tensors_from(f);
  const std::vector<uint8_t> copy = w.to_bytes();
  auto raw = MappedFile::open(path);
  ASSERT_EQ(copy.size(), raw->size());
  EXPECT_EQ(std::memcmp(copy.data(), raw->data(), copy.size()), 0);
}

INSTANTIATE_TEST_SUITE_P(DefaultModels, GGUFModelTest,
                         ::testing::Values(ModelFacts{"smollm2-135m", "llama", 33, 272},
                                           ModelFacts{"gemma3-270m", "gemma3", 33, 236},
                                           ModelFacts{"qwen2.5-coder-0.5b", "qwen2", 26, 291}),
                         [](const auto& info) {
                           std::string s = info.param.key;
                           for (char& c : s) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return s;
                         });

}  // namespace
}  // namespace steer
