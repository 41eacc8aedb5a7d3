// Dequantization and quantization against gguf-py 0.19 (fixtures from
// tools/reference/make_dequant_fixtures.py), against ggml's own reference quantizers
// (tests/data/dequant/ggml_quant_ref.json: the bytes of ggml's quantize_row_*_ref at ggml commit
// d99724f on a fixed input, made once by a throw-away harness that is not kept here because it
// builds ggml's code; the only reference for Q4_K, Q5_K, Q6_K, which gguf-py cannot
// quantize), and against error
// bounds of each format.
//
// Tolerance: none. gguf-py computes in float32 with the same operations in the same order as
// ggml's reference C code, so every float and every byte must match exactly.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <random>

#include "io/dequant.h"
#include "steer/error.h"
#include "io/half.h"
#include "io_test_util.h"
#include "steer/gguf_writer.h"
#include "test_paths.h"

namespace steer {
namespace {

const nlohmann::json& fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in(test::test_data() + "/dequant/blocks.json");
    EXPECT_TRUE(in.good()) << "missing tests/data/dequant/blocks.json (run tools/reference/make_dequant_fixtures.py)";
    return nlohmann::json::parse(in);
  }();
  return j;
}

uint32_t bits(float f) { return float_bits(f); }

TEST(Dequant, MatchesGgufPyBitForBitForEveryType) {
  const auto& dq = fixture().at("dequant");
  const char* types[] = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
                         "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"};
  for (const char* name : types) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(dq.contains(name)) << "fixture lacks " << name;
    const GGMLType type = ggml_type_from_name(name);
    EXPECT_TRUE(ggml_type_supported(type));
    const int64_t n = dq.at(name).at("n").get<int64_t>();
    const std::vector<uint8_t> bytes = test::from_hex(dq.at(name).at("bytes").get<std::string>());
    const std::vector<float> want = test::floats_from_hex(dq.at(name).at("values").get<std::string>());
    ASSERT_EQ(static_cast<int64_t>(want.size()), n);
    ASSERT_EQ(bytes.size(), ggml_nbytes(type, {n}));
    std::vector<float> got(n);
    dequantize_row(type, bytes.data(), got.data(), n);
    int mismatches = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (bits(got[i]) != bits(want[i]) && mismatches++ < 5) {
        ADD_FAILURE() << name << " element " << i << ": got " << got[i] << " want " << want[i];
      }
    }
    EXPECT_EQ(mismatches, 0);
  }
}

TEST(Quantize, MatchesGgufPyBytesForTheTypesItQuantizes) {
  const auto& q = fixture().at("quant");
  for (const char* name : {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(q.contains(name));
    const GGMLType type = ggml_type_from_name(name);
    const std::vector<float> x = test::floats_from_hex(q.at(name).at("input").get<std::string>());
    const std::vector<uint8_t> want = test::from_hex(q.at(name).at("bytes").get<std::string>());
    ASSERT_EQ(want.size(), ggml_nbytes(type, {static_cast<int64_t>(x.size())}));
    std::vector<uint8_t> got(want.size());
    quantize_row(type, x.data(), got.data(), static_cast<int64_t>(x.size()));
    const int64_t elem_bytes = ggml_type_traits(type).type_size / ggml_type_traits(type).block_size;
    int mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      if (got[i] != want[i] && mismatches++ < 5) {
        const size_t e = i / static_cast<size_t>(std::max<int64_t>(1, elem_bytes));
        ADD_FAILURE() << name << " byte " << i << ": got " << int(got[i]) << " want " << int(want[i])
                      << (elem_bytes ? " (input " + std::to_string(x[e]) + ")" : "");
      }
    }
    EXPECT_EQ(mismatches, 0);
  }
}

TEST(Quantize, MatchesGgmlReferenceQuantizers) {
  std::ifstream in(test::test_data() + "/dequant/ggml_quant_ref.json");
  ASSERT_TRUE(in.good()) << "missing tests/data/dequant/ggml_quant_ref.json";
  const nlohmann::json ref = nlohmann::json::parse(in);
  const std::vector<float> x = test::floats_from_hex(ref.at("input").get<std::string>());
  const int64_t n = ref.at("n").get<int64_t>();
  ASSERT_EQ(static_cast<int64_t>(x.size()), n);
  for (const char* name : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K"}) {
    SCOPED_TRACE(name);
    const GGMLType type = ggml_type_from_name(name);
    const std::vector<uint8_t> want = test::from_hex(ref.at(name).get<std::string>());
    ASSERT_EQ(want.size(), ggml_nbytes(type, {n}));
    std::vector<uint8_t> got(want.size());
    quantize_row(type, x.data(), got.data(), n);
    const size_t block_bytes = static_cast<size_t>(ggml_type_traits(type).type_size);
    int bad_blocks = 0;
    for (size_t b = 0; b < got.size(); b += block_bytes) {
      if (std::memcmp(got.data() + b, want.data() + b, block_bytes) != 0 && bad_blocks++ < 3) {
        ADD_FAILURE() << name << " block " << b / block_bytes << " differs from ggml";
      }
    }
    EXPECT_EQ(bad_blocks, 0);
  }
}

TEST(Half, RoundTripsEveryFp16Value) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_EQ((h & 0x7c00u), 0x7c00u);
      EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(f))));
      continue;
    }
    ASSERT_EQ(fp32_to_fp16(f), h) << "fp16 " << h << " -> " << f;
  }
  EXPECT_EQ(fp16_to_fp32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
  EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(Quantize, Q8_0ErrorIsAtMostHalfAStep) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(32 * 64), y(x.size());
  for (float& v : x) v = nd(rng);
  std::vector<uint8_t> q(ggml_nbytes(GGMLType::Q8_0, {static_cast<int64_t>(x.size())}));
  quantize_row(GGMLType::Q8_0, x.data(), q.data(), static_cast<int64_t>(x.size()));
  dequantize_row(GGMLType::Q8_0, q.data(), y.data(), static_cast<int64_t>(x.size()));
  for (size_t b = 0; b < x.size() / 32; ++b) {
    uint16_t d16;
    std::memcpy(&d16, q.data() + b * 34, 2);
    const float d = fp16_to_fp32(d16);
    for (size_t j = 0; j < 32; ++j) {
      // Half a step, plus the rounding of the scale to fp16 (relative 2^-11 of the value).
      EXPECT_LE(std::fabs(x[b * 32 + j] - y[b * 32 + j]), d / 2 + std::fabs(x[b * 32 + j]) * 1e-3f + 1e-7f);
    }
  }
}

// Q4_K, Q5_K, Q6_K: gguf-py has no quantizer, so check the defining properties instead:
//  - dequant(quant(x)) is close to x: RMS error relative to RMS(x) below a per-format bound
//    (measured on Gaussian data; a layout bug gives errors of order 1);
//  - quantizing the dequantized values again is a fixed point up to rare ties, and its
//    dequantization equals the first one exactly (the levels are representable);
//  - an all-zero block gives zeros.
struct KCase {
  GGMLType type;
  double max_rel_rms;  // bound on rms(error)/rms(x) for N(0,1) data
};

void PrintTo(const KCase& c, std::ostream* os) { *os << ggml_type_name(c.type); }

class KQuantTest : public ::testing::TestWithParam<KCase> {};

TEST_P(KQuantTest, RoundTripIsAccurateAndStable) {
  const KCase c = GetParam();
  const int64_t n = 256 * 64;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = nd(rng) * (1.0f + (i / 256) % 7);  // varying block scales
  const size_t nbytes = ggml_nbytes(c.type, {n});
  std::vector<uint8_t> q(nbytes), q2(nbytes);
  std::vector<float> y(n), y2(n);
  quantize_row(c.type, x.data(), q.data(), n);
  dequantize_row(c.type, q.data(), y.data(), n);
  double se = 0, sx = 0;
  for (int64_t i = 0; i < n; ++i) {
    se += (x[i] - y[i]) * double(x[i] - y[i]);
    sx += x[i] * double(x[i]);
  }
  const double rel = std::sqrt(se / sx);
  EXPECT_LT(rel, c.max_rel_rms) << ggml_type_name(c.type);
  EXPECT_GT(rel, 0.0);

  quantize_row(c.type, y.data(), q2.data(), n);
  dequantize_row(c.type, q2.data(), y2.data(), n);
  double se2 = 0;
  for (int64_t i = 0; i < n; ++i) se2 += (y[i] - y2[i]) * double(y[i] - y2[i]);
  EXPECT_LT(std::sqrt(se2 / sx), c.max_rel_rms / 4) << "re-quantizing dequantized values drifts";

  std::vector<float> zeros(256, 0.f), back(256, 1.f);
  std::vector<uint8_t> qz(ggml_nbytes(c.type, {256}));
  quantize_row(c.type, zeros.data(), qz.data(), 256);
  dequantize_row(c.type, qz.data(), back.data(), 256);
  for (float v : back) EXPECT_EQ(v, 0.f);
}

INSTANTIATE_TEST_SUITE_P(KQuants, KQuantTest,
                         ::testing::Values(KCase{GGMLType::Q4_K, 0.12}, KCase{GGMLType::Q5_K, 0.06},
                                           KCase{GGMLType::Q6_K, 0.03}),
                         [](const auto& info) { return ggml_type_name(info.param.type); });

TEST(Quantize, BlockQuantsRoundTripWithinTheirStep) {
  // Per-element error bounds of the block-32 formats on Gaussian data:
  //  symmetric (Q4_0, Q5_0, Q8_0): step = amax / (8, 16, 127); the top level is clipped, so
  //    the error is at most one step;
  //  asymmetric (Q4_1, Q5_1): step = (max - min) / (15, 31); error at most half a step;
  // plus the fp16 rounding of the block's scale and min (relative 2^-11, bounded by 2e-3).
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  const int64_t n = 32 * 256;
  std::vector<float> x(n), y(n);
  for (float& v : x) v = nd(rng);
  struct Case { GGMLType type; bool symmetric; float levels; };
  for (Case c : {Case{GGMLType::Q4_0, true, 8}, Case{GGMLType::Q5_0, true, 16}, Case{GGMLType::Q8_0, true, 127},
                 Case{GGMLType::Q4_1, false, 15}, Case{GGMLType::Q5_1, false, 31}}) {
    std::vector<uint8_t> q(ggml_nbytes(c.type, {n}));
    quantize_row(c.type, x.data(), q.data(), n);
    dequantize_row(c.type, q.data(), y.data(), n);
    for (int64_t b = 0; b < n / 32; ++b) {
      float lo = x[b * 32], hi = x[b * 32];
      for (int j = 0; j < 32; ++j) lo = std::min(lo, x[b * 32 + j]), hi = std::max(hi, x[b * 32 + j]);
      const float amax = std::max(std::fabs(lo), std::fabs(hi));
      const float bound = c.symmetric ? amax / c.levels + amax * 2e-3f
                                      : (hi - lo) / c.levels * 0.5f + (std::fabs(lo) + std::fabs(hi)) * 2e-3f;
      for (int j = 0; j < 32; ++j) {
        ASSERT_LE(std::fabs(x[b * 32 + j] - y[b * 32 + j]), bound) << ggml_type_name(c.type) << " block " << b;
      }
    }
  }
}

TEST(Dequant, RejectsUnsupportedTypesAndPartialBlocks) {
  std::vector<uint8_t> buf(1024);
  std::vector<float> out(256);
  test::expect_error([&] { dequantize_row(GGMLType::IQ2_XXS, buf.data(), out.data(), 256); }, "IQ2_XXS");
  test::expect_error([&] { dequantize_row(GGMLType::Q4_K, buf.data(), out.data(), 100); }, "block size 256");
  test::expect_error([&] { quantize_row(GGMLType::Q3_K, out.data(), buf.data(), 256); }, "Q3_K");
  test::expect_error([&] { dequantize_row(static_cast<GGMLType>(4), buf.data(), out.data(), 32); }, "Q4_2");
  EXPECT_FALSE(ggml_type_supported(GGMLType::IQ4_XS));
  EXPECT_FALSE(ggml_type_quantizable(GGMLType::Q2_K));
}

TEST(Dequant, TensorHelperNamesTheTensorAndSplitsWork) {
  // quantize_tensor/dequantize_row on a tensor large enough to use several threads must
  // equal the single-call result.
  const std::vector<int64_t> ne = {512, 300};
  std::vector<float> x(512 * 300);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (float& v : x) v = nd(rng);
  const std::vector<uint8_t> q = quantize_tensor(GGMLType::Q6_K, x.data(), ne);
  std::vector<uint8_t> q1(q.size());
  quantize_row(GGMLType::Q6_K, x.data(), q1.data(), static_cast<int64_t>(x.size()));
  EXPECT_EQ(q, q1);
  test::expect_error([&] { quantize_tensor(GGMLType::Q4_K, x.data(), {100, 3}); }, "block size");
}

TEST(Dequant, TensorFromAFileNamesTheTensorOnError) {
  GGUFWriter w;
  std::vector<float> x(512);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(float(i));
  w.add_tensor("blk.0.q4k", {256, 2}, GGMLType::Q4_K, quantize_tensor(GGMLType::Q4_K, x.data(), {256, 2}));
  w.add_tensor("blk.0.iq2", {256}, GGMLType::IQ2_XXS, std::vector<uint8_t>(66, 0));
  const std::string path = test::scratch_dir() + "/dequant_tensor.gguf";
  w.write(path);
  auto f = GGUFFile::open(path);
  const std::vector<float> y = dequantize_tensor(*f, f->tensor("blk.0.q4k"));
  std::vector<float> y1(512);
  dequantize_row(GGMLType::Q4_K, f->tensor_data(f->tensor("blk.0.q4k")), y1.data(), 512);
  EXPECT_EQ(y, y1);
  const std::string msg = test::expect_error([&] { dequantize_tensor(*f, f->tensor("blk.0.iq2")); }, "'blk.0.iq2'");
  EXPECT_NE(msg.find("IQ2_XXS"), std::string::npos);

  // F32 tensors of the tiny model come back unchanged.
  auto tiny = GGUFFile::open(test::tiny_model());
  const GGUFTensorInfo& emb = tiny->tensor("token_embd.weight");
  const std::vector<float> e = dequantize_tensor(*tiny, emb);
  EXPECT_EQ(std::memcmp(e.data(), tiny->tensor_data(emb), emb.n_bytes()), 0);
}

}  // namespace
}  // namespace steer

namespace steer {

// Found by fuzzing (tests/fuzz/regressions/dequant/): a NaN scale dequantizes to NaN values, and
// quantizing those converted NaN to an integer (undefined behaviour).
TEST(Dequant, QuantizingNonFiniteValuesIsAClearError) {
  for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
    for (GGMLType type : {GGMLType::Q4_0, GGMLType::Q4_1, GGMLType::Q5_0, GGMLType::Q5_1, GGMLType::Q8_0,
                          GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K}) {
      std::vector<float> x(256, 0.5f);
      x[7] = bad;
      std::vector<uint8_t> out(ggml_nbytes(type, {256}));
      try {
        quantize_row(type, x.data(), out.data(), 256);
        ADD_FAILURE() << ggml_type_name(type) << " quantized " << bad;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("element 7"), std::string::npos) << e.what();
      }
    }
  }
  // The float types keep such values as they are.
  std::vector<float> x(32, std::nanf(""));
  std::vector<uint8_t> out(32 * 2);
  EXPECT_NO_THROW(quantize_row(GGMLType::F16, x.data(), out.data(), 32));
}

}  // namespace steer
