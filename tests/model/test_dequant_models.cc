// Every tensor of the three default models, dequantized by steer, against gguf-py 0.19's
// dequantization (tests/data/dequant/<model>.json, made by
// tools/reference/make_dequant_fixtures.py --models): per tensor the values at 64 strided
// indices must be bit-identical, and the float64 sum, sum of |x| and sum of squares must agree
// to 1e-12 relative to sum |x| (resp. sum x^2). They differ only by summation order: numpy
// sums pairwise (error about (128 + log2 n) eps, ~3e-14), we sum compensated (~eps).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>

#include "io/dequant.h"
#include "steer/gguf.h"
#include "test_paths.h"

namespace steer {
namespace {

// Neumaier's compensated summation: accurate to about one rounding whatever the length.
struct CompensatedSum {
  double s = 0, c = 0;
  void add(double x) {
    const double t = s + x;
    c += std::fabs(s) >= std::fabs(x) ? (s - t) + x : (x - t) + s;
    s = t;
  }
  double value() const { return s + c; }
};

class DequantModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DequantModelTest, EveryTensorMatchesGgufPy) {
  const std::string key = GetParam();
  const std::string path = test::default_model(key);
  if (path.empty()) return;  // default_model() already failed the test with a hint
  std::ifstream in(test::test_data() + "/dequant/" + key + ".json");
  ASSERT_TRUE(in.good()) << "missing tests/data/dequant/" << key << ".json";
  const nlohmann::json ref = nlohmann::json::parse(in);
  auto file = GGUFFile::open(path);
  ASSERT_EQ(ref.at("file_size").get<uint64_t>(), file->file_size()) << "the fixture was made from another file";
  const auto& tensors = ref.at("tensors");
  ASSERT_EQ(tensors.size(), file->tensors().size());

  std::map<std::string, int> checked;
  std::vector<float> buf;
  double seconds = 0;
  uint64_t bytes = 0;
  for (const auto& t : tensors) {
    const std::string name = t.at("name").get<std::string>();
    SCOPED_TRACE(name);
    const GGUFTensorInfo& info = file->tensor(name);
    ASSERT_EQ(ggml_type_name(info.type), t.at("type").get<std::string>());
    ASSERT_EQ(info.ne, t.at("ne").get<std::vector<int64_t>>());
    const int64_t n = info.n_elements();
    ASSERT_EQ(n, t.at("n").get<int64_t>());
    buf.resize(static_cast<size_t>(n));
    const auto t0 = std::chrono::steady_clock::now();
    dequantize_tensor(*file, info, buf.data());
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    bytes += info.n_bytes();

    CompensatedSum sum, sum_abs, sum_sq;
    for (float v : buf) {
      sum.add(v);
      sum_abs.add(std::fabs(v));
      sum_sq.add(double(v) * v);
    }
    const double ref_abs = t.at("sum_abs").get<double>();
    const double ref_sq = t.at("sum_sq").get<double>();
    EXPECT_NEAR(sum.value(), t.at("sum").get<double>(), 1e-12 * ref_abs + 1e-30);
    EXPECT_NEAR(sum_abs.value(), ref_abs, 1e-12 * ref_abs + 1e-30);
    EXPECT_NEAR(sum_sq.value(), ref_sq, 1e-12 * ref_sq + 1e-30);
    const auto samples = t.at("samples").get<std::vector<double>>();
    ASSERT_EQ(samples.size(), 64u);
    for (int k = 0; k < 64; ++k) {
      const int64_t idx = n > 1 ? k * (n - 1) / 63 : 0;
      const float want = static_cast<float>(samples[k]);  // float32 -> JSON double -> float32 is exact
      uint32_t a, b;
      std::memcpy(&a, &buf[idx], 4);
      std::memcpy(&b, &want, 4);
      EXPECT_EQ(a, b) << "index " << idx << ": " << buf[idx] << " vs " << want;
    }
    ++checked[ggml_type_name(info.type)];
  }
  std::cout << "[ " << key << " ] checked " << tensors.size() << " tensors:";
  for (const auto& kv : checked) std::cout << " " << kv.first << "=" << kv.second;
  std::cout << "; dequantized " << bytes / 1e6 << " MB in " << seconds << " s\n";
}

INSTANTIATE_TEST_SUITE_P(DefaultModels, DequantModelTest,
                         ::testing::Values("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return s;
                         });

}  // namespace
}  // namespace steer
