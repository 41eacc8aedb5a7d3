// The ggml type table against gguf-py 0.19's GGML_QUANT_SIZES (values copied from it) and
// the size arithmetic used to bounds-check tensors.
#include <gtest/gtest.h>

#include "steer/ggml_types.h"
#include "io_test_util.h"

namespace steer {
namespace {

TEST(GGMLTypes, SizesMatchGgufPy) {
  struct Row { GGMLType t; const char* name; int64_t block, size; };
  const Row rows[] = {
      {GGMLType::F32, "F32", 1, 4},       {GGMLType::F16, "F16", 1, 2},       {GGMLType::Q4_0, "Q4_0", 32, 18},
      {GGMLType::Q4_1, "Q4_1", 32, 20},   {GGMLType::Q5_0, "Q5_0", 32, 22},   {GGMLType::Q5_1, "Q5_1", 32, 24},
      {GGMLType::Q8_0, "Q8_0", 32, 34},   {GGMLType::Q8_1, "Q8_1", 32, 40},   {GGMLType::Q2_K, "Q2_K", 256, 84},
      {GGMLType::Q3_K, "Q3_K", 256, 110}, {GGMLType::Q4_K, "Q4_K", 256, 144}, {GGMLType::Q5_K, "Q5_K", 256, 176},
      {GGMLType::Q6_K, "Q6_K", 256, 210}, {GGMLType::Q8_K, "Q8_K", 256, 292}, {GGMLType::IQ2_XXS, "IQ2_XXS", 256, 66},
      {GGMLType::IQ2_XS, "IQ2_XS", 256, 74}, {GGMLType::IQ3_XXS, "IQ3_XXS", 256, 98}, {GGMLType::IQ1_S, "IQ1_S", 256, 50},
      {GGMLType::IQ4_NL, "IQ4_NL", 32, 18}, {GGMLType::IQ3_S, "IQ3_S", 256, 110}, {GGMLType::IQ2_S, "IQ2_S", 256, 82},
      {GGMLType::IQ4_XS, "IQ4_XS", 256, 136}, {GGMLType::I8, "I8", 1, 1},     {GGMLType::I16, "I16", 1, 2},
      {GGMLType::I32, "I32", 1, 4},       {GGMLType::I64, "I64", 1, 8},       {GGMLType::F64, "F64", 1, 8},
      {GGMLType::IQ1_M, "IQ1_M", 256, 56}, {GGMLType::BF16, "BF16", 1, 2},    {GGMLType::TQ1_0, "TQ1_0", 256, 54},
      {GGMLType::TQ2_0, "TQ2_0", 256, 66}, {GGMLType::MXFP4, "MXFP4", 32, 17}, {GGMLType::NVFP4, "NVFP4", 64, 36},
      {GGMLType::Q1_0, "Q1_0", 128, 18},
  };
  for (const Row& r : rows) {
    const GGMLTypeTraits t = ggml_type_traits(r.t);
    EXPECT_STREQ(t.name, r.name);
    EXPECT_EQ(t.block_size, r.block) << r.name;
    EXPECT_EQ(t.type_size, r.size) << r.name;
    EXPECT_TRUE(ggml_type_known(r.t));
    EXPECT_EQ(ggml_type_from_name(r.name), r.t);
  }
  EXPECT_EQ(static_cast<uint32_t>(GGMLType::BF16), 30u);
  EXPECT_EQ(static_cast<uint32_t>(GGMLType::Q6_K), 14u);
}

TEST(GGMLTypes, RemovedAndUnknownIds) {
  for (uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 42u, 1000u}) {
    EXPECT_FALSE(ggml_type_known(static_cast<GGMLType>(id))) << id;
    EXPECT_FALSE(ggml_type_supported(static_cast<GGMLType>(id))) << id;
  }
  EXPECT_EQ(ggml_type_name(static_cast<GGMLType>(36)), "IQ4_NL_4_4 (removed)");
  EXPECT_EQ(ggml_type_name(static_cast<GGMLType>(99)), "type 99 (unknown)");
  EXPECT_EQ(ggml_type_from_name("q4_k"), GGMLType::Q4_K);
  const std::string msg = test::expect_error([] { ggml_type_from_name("Q4_2"); }, "unknown ggml type 'Q4_2'");
  (void)msg;
}

TEST(GGMLTypes, NbytesChecksShapes) {
  EXPECT_EQ(ggml_nbytes(GGMLType::Q4_K, {512, 3}), 2u * 144 * 3);
  EXPECT_EQ(ggml_nbytes(GGMLType::F32, {64, 512}), 131072u);
  EXPECT_EQ(ggml_nbytes(GGMLType::F16, {}), 2u);
  EXPECT_EQ(ggml_nbytes(GGMLType::Q8_0, {32, 0}), 0u);
  test::expect_error([] { ggml_nbytes(GGMLType::Q8_0, {33}); }, "not a multiple of the Q8_0 block size 32");
  test::expect_error([] { ggml_nbytes(GGMLType::F32, {1LL << 40, 1LL << 40}); }, "overflows");
  test::expect_error([] { ggml_nbytes(GGMLType::F32, {4, -1}); }, "negative");
  test::expect_error([] { ggml_nbytes(static_cast<GGMLType>(5), {32}); }, "no known size");
}

}  // namespace
}  // namespace steer
