// GGUF writer: write -> read back equal for every value type; byte-identical output to
// gguf-py's GGUFWriter for the same content (tests/data/gguf/*.gguf, made by
// tools/reference/make_io_fixtures.py — keep the content below in step with that script);
// copying a real model reproduces it byte for byte; atomic writes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "io/dequant.h"
#include "io/half.h"
#include "io_test_util.h"
#include "steer/gguf.h"
#include "steer/gguf_writer.h"
#include "test_paths.h"

namespace steer {
namespace {

using test::expect_error;

std::string scratch(const std::string& name) { return test::scratch_dir() + "/" + name; }

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// The content of tools/reference/make_io_fixtures.py:write_gguf, rebuilt with our writer.
GGUFWriter reference_content(bool align64) {
  GGUFWriter w;
  w.set_string("general.architecture", "steer-test");
  if (align64) w.set_alignment(64);
  w.set("t.u8", GGUFValue::u8(200));
  w.set("t.i8", GGUFValue::i8(-100));
  w.set("t.u16", GGUFValue::u16(60000));
  w.set("t.i16", GGUFValue::i16(-30000));
  w.set("t.u32", GGUFValue::u32(4000000000u));
  w.set("t.i32", GGUFValue::i32(-2000000000));
  w.set("t.f32", GGUFValue::f32(0.1f));
  w.set("t.u64", GGUFValue::u64((uint64_t(1) << 63) + 5));
  w.set("t.i64", GGUFValue::i64(-(int64_t(1) << 62)));
  w.set("t.f64", GGUFValue::f64(3.141592653589793));
  w.set("t.bool", GGUFValue::boolean(true));
  w.set("t.string", GGUFValue::string("h\xc3\xa9llo\nworld"));
  w.set("t.strings", GGUFValue::strings({"a", "", "\xc3\xbc"}));
  w.set("t.ints", GGUFValue::ints(GGUFValueType::INT32, {1, -2, 3}));
  w.set("t.floats", GGUFValue::floats({0.5f, -1.25f}));
  w.set("t.bools", GGUFValue::bools({true, false, true}));
  w.set("t.u64s", GGUFValue::ints(GGUFValueType::UINT64, {1, -1}));  // -1: the bits of 2^64-1
  w.set("t.f64s", GGUFValue::floats(GGUFValueType::FLOAT64, {1e300, -2.5}));
  w.set("t.u8s", GGUFValue::ints(GGUFValueType::UINT8, {0, 255}));
  w.set("t.nested", GGUFValue::arrays({GGUFValue::ints(GGUFValueType::INT32, {1, 2}),
                                       GGUFValue::ints(GGUFValueType::INT32, {3})}));

  std::vector<float> f32(15);
  for (int i = 0; i < 15; ++i) f32[i] = i * 0.25f - 1;
  w.add_tensor("w.f32", {5, 3}, GGMLType::F32, f32_bytes(f32));
  std::vector<uint8_t> f16(14);
  const float h[] = {1, -2, 0.5f, 65504, 1e-7f, 3, 4};
  for (int i = 0; i < 7; ++i) {
    const uint16_t v = fp32_to_fp16(h[i]);
    std::memcpy(f16.data() + 2 * i, &v, 2);
  }
  w.add_tensor("w.f16", {7}, GGMLType::F16, f16);
  std::vector<float> q(64);
  for (int i = 0; i < 64; ++i) q[i] = static_cast<float>(i) / 10 - 3;
  w.add_tensor("w.q8_0", {32, 2}, GGMLType::Q8_0, quantize_tensor(GGMLType::Q8_0, q.data(), {32, 2}));
  std::vector<uint8_t> i32(12);
  const int32_t iv[] = {7, -8, 9};
  std::memcpy(i32.data(), iv, 12);
  w.add_tensor("w.i32", {3}, GGMLType::I32, i32);
  return w;
}

TEST(GGUFWriter, ByteIdenticalToGgufPy) {
  for (bool align64 : {false, true}) {
    SCOPED_TRACE(align64 ? "alignment 64" : "default alignment");
    const std::string ref = test::test_data() + (align64 ? "/gguf/writer_reference_align64.gguf" : "/gguf/writer_reference.gguf");
    const std::vector<uint8_t> want = test::read_bytes(ref);
    ASSERT_FALSE(want.empty());
    const GGUFWriter w = reference_content(align64);
    const std::vector<uint8_t> got = w.to_bytes();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "first difference at byte " << i;
    const std::string path = scratch("ref_copy.gguf");
    w.write(path);
    EXPECT_EQ(test::read_bytes(path), want);
  }
}

TEST(GGUFWriter, ReadsTheGgufPyFileBack) {
  auto f = GGUFFile::open(test::test_data() + "/gguf/writer_reference.gguf");
  EXPECT_EQ(f->get_int("t.u8"), 200);
  EXPECT_EQ(f->get("t.u64").as_uint(), (uint64_t(1) << 63) + 5);
  expect_error([&] { f->get_int("t.u64"); }, "does not fit int64");
  EXPECT_EQ(f->get_int("t.i64"), -(int64_t(1) << 62));
  EXPECT_EQ(f->get_float("t.f32"), static_cast<double>(0.1f));
  EXPECT_EQ(f->get_string("t.string"), "h\xc3\xa9llo\nworld");
  EXPECT_EQ(f->get("t.u64s").as_uints(), (std::vector<uint64_t>{1, ~uint64_t(0)}));
  const auto& nested = f->get("t.nested").as_arrays();
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(nested[0].as_ints(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(nested[1].as_ints(), (std::vector<int64_t>{3}));
  EXPECT_EQ(f->tensor("w.f32").ne, (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(f->tensor("w.q8_0").ne, (std::vector<int64_t>{32, 2}));
  EXPECT_EQ(f->tensor("w.q8_0").type, GGMLType::Q8_0);
  EXPECT_EQ(f->tensor("w.i32").type, GGMLType::I32);
  const float* x = reinterpret_cast<const float*>(f->tensor_data(f->tensor("w.f32")));
  EXPECT_EQ(x[14], 14 * 0.25f - 1);
  EXPECT_EQ(f->tensor("w.q8_0").offset % 32, 0u);
}

TEST(GGUFWriter, RoundTripsEveryValueType) {
  GGUFWriter w;
  std::vector<std::pair<std::string, GGUFValue>> kv = {
      {"u8", GGUFValue::u8(255)},
      {"i8", GGUFValue::i8(-128)},
      {"u16", GGUFValue::u16(65535)},
      {"i16", GGUFValue::i16(-32768)},
      {"u32", GGUFValue::u32(4294967295u)},
      {"i32", GGUFValue::i32(std::numeric_limits<int32_t>::min())},
      {"u64", GGUFValue::u64(~uint64_t(0))},
      {"i64", GGUFValue::i64(std::numeric_limits<int64_t>::min())},
      {"f32", GGUFValue::f32(-0.0f)},
      {"f32nan", GGUFValue::f32(std::numeric_limits<float>::quiet_NaN())},
      {"f64", GGUFValue::f64(std::numeric_limits<double>::denorm_min())},
      {"bool", GGUFValue::boolean(false)},
      {"empty string", GGUFValue::string("")},
      {"string", GGUFValue::string(std::string("with\0nul", 8))},
      {"strings", GGUFValue::strings({"x", "", std::string(1000, 'y')})},
      {"no strings", GGUFValue::strings({})},
      {"u8s", GGUFValue::ints(GGUFValueType::UINT8, {0, 1, 255})},
      {"i8s", GGUFValue::ints(GGUFValueType::INT8, {-128, 127})},
      {"u16s", GGUFValue::ints(GGUFValueType::UINT16, {65535})},
      {"i16s", GGUFValue::ints(GGUFValueType::INT16, {-32768})},
      {"u32s", GGUFValue::ints(GGUFValueType::UINT32, {4294967295LL})},
      {"i32s", GGUFValue::ints(GGUFValueType::INT32, {}),},
      {"i64s", GGUFValue::ints(GGUFValueType::INT64, {std::numeric_limits<int64_t>::max()})},
      {"f32s", GGUFValue::floats({1.5f, -0.0f, 3e38f})},
      {"f64s", GGUFValue::floats(GGUFValueType::FLOAT64, {1e-300})},
      {"bools", GGUFValue::bools({false, true})},
      {"nested strings", GGUFValue::arrays({GGUFValue::strings({"a"}), GGUFValue::strings({})})},
      {"nested nested", GGUFValue::arrays({GGUFValue::arrays({GGUFValue::floats({2.f})})})},
  };
  for (const auto& p : kv) w.set(p.first, p.second);
  std::vector<float> data(256 * 2);
  for (size_t i = 0; i < data.size(); ++i) data[i] = std::sin(float(i));
  w.add_tensor("q6", {256, 2}, GGMLType::Q6_K, quantize_tensor(GGMLType::Q6_K, data.data(), {256, 2}));
  w.add_tensor_view("view", {4}, GGMLType::F32, data.data());
  w.add_tensor_fill("filled", {3, 1, 1, 1}, GGMLType::F16, [](uint8_t* dst, size_t n) {
    ASSERT_EQ(n, 6u);
    for (size_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(i + 1);
  });
  w.add_tensor("empty", {0, 5}, GGMLType::F32, {});
  const std::string path = scratch("roundtrip.gguf");
  w.write(path);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp-" + std::to_string(::getpid())));

  auto f = GGUFFile::open(path);
  ASSERT_EQ(f->metadata().size(), kv.size());
  for (size_t i = 0; i < kv.size(); ++i) {
    EXPECT_EQ(f->metadata()[i].first, kv[i].first);
    EXPECT_TRUE(f->metadata()[i].second == kv[i].second)
        << kv[i].first << ": " << f->metadata()[i].second.to_string() << " vs " << kv[i].second.to_string();
  }
  EXPECT_TRUE(std::signbit(f->get_float("f32")));
  EXPECT_TRUE(std::isnan(f->get_float("f32nan")));
  EXPECT_EQ(f->get_string("string").size(), 8u);
  ASSERT_EQ(f->tensors().size(), 4u);
  EXPECT_EQ(f->tensor("q6").type, GGMLType::Q6_K);
  EXPECT_EQ(std::memcmp(f->tensor_data(f->tensor("view")), data.data(), 16), 0);
  const uint8_t* filled = f->tensor_data(f->tensor("filled"));
  EXPECT_EQ(filled[5], 6);
  EXPECT_EQ(f->tensor("filled").ne, (std::vector<int64_t>{3, 1, 1, 1}));
  EXPECT_EQ(f->tensor("empty").n_bytes(), 0u);
  for (const auto& t : f->tensors()) EXPECT_EQ(t.offset % 32, 0u) << t.name;

  // Writing what we read gives the same bytes again.
  GGUFWriter again;
  again.copy_metadata_from(*f);
  again.copy_tensors_from(f);
  EXPECT_EQ(again.to_bytes(), test::read_bytes(path));
}

TEST(GGUFWriter, CopyOfTheTinyModelIsByteIdentical) {
  auto src = GGUFFile::open(test::tiny_model());
  GGUFWriter w;
  w.copy_metadata_from(*src);
  w.copy_tensors_from(src);
  const std::vector<uint8_t> want = test::read_bytes(test::tiny_model());
  const std::vector<uint8_t> got = w.to_bytes();
  ASSERT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want);
}

TEST(GGUFWriter, SetReplacesInPlaceAndRemoveWorks) {
  GGUFWriter w;
  w.set_u32("a", 1);
  w.set_string("b", "x");
  w.set_u32("a", 2);
  ASSERT_EQ(w.metadata().size(), 2u);
  EXPECT_EQ(w.metadata()[0].first, "a");
  EXPECT_EQ(w.find("a")->as_int(), 2);
  EXPECT_TRUE(w.remove("a"));
  EXPECT_FALSE(w.remove("a"));
  EXPECT_FALSE(w.has("a"));
  EXPECT_EQ(w.alignment(), 32u);
  w.set_alignment(128);
  EXPECT_EQ(w.alignment(), 128u);
  std::vector<float> z(4, 0.f);
  w.add_tensor_view("t", {4}, GGMLType::F32, z.data());
  EXPECT_TRUE(w.has_tensor("t"));
  EXPECT_TRUE(w.remove_tensor("t"));
  EXPECT_TRUE(w.tensor_names().empty());
}

TEST(GGUFWriter, RejectsBadInput) {
  GGUFWriter w;
  expect_error([&] { w.add_tensor("t", {4}, GGMLType::F32, std::vector<uint8_t>(15)); }, "need 16");
  EXPECT_FALSE(w.has_tensor("t"));
  expect_error([&] { w.add_tensor("q", {100}, GGMLType::Q4_K, std::vector<uint8_t>(10)); }, "block size 256");
  expect_error([&] { w.add_tensor("d", {1, 1, 1, 1, 1}, GGMLType::F32, std::vector<uint8_t>(4)); }, "5 dimensions");
  expect_error([&] { w.add_tensor("n", {-1}, GGMLType::F32, {}); }, "negative");
  expect_error([&] { w.add_tensor_view("v", {1}, GGMLType::F32, nullptr); }, "null pointer");
  w.add_tensor("t", {1}, GGMLType::F32, std::vector<uint8_t>(4));
  expect_error([&] { w.add_tensor("t", {1}, GGMLType::F32, std::vector<uint8_t>(4)); }, "duplicate tensor name 't'");
  expect_error([&] { w.set_alignment(48); }, "not a power of two");
  expect_error([&] { w.set("general.alignment", GGUFValue::u64(32)); }, "UINT32");
  expect_error([&] { GGUFValue::ints(GGUFValueType::UINT8, {256}); }, "does not fit UINT8");
  expect_error([&] { GGUFValue::ints(GGUFValueType::FLOAT32, {1}); }, "not an integer type");
  expect_error([&] { GGUFValue::arrays({GGUFValue::u8(1)}); }, "not an array");
  expect_error([&] { w.write("/nonexistent-dir/x.gguf"); }, "/nonexistent-dir/x.gguf");
}

TEST(GGUFWriter, FailedWriteLeavesTheOldFileAlone) {
  const std::string path = scratch("atomic.gguf");
  GGUFWriter ok;
  ok.set_u32("version", 1);
  ok.write(path);
  const std::vector<uint8_t> before = test::read_bytes(path);

  GGUFWriter bad;
  bad.set_u32("version", 2);
  bad.add_tensor_fill("t", {1024}, GGMLType::F32, [](uint8_t*, size_t) { fail("no data today"); });
  const std::string msg = expect_error([&] { bad.write(path); }, "no data today");
  EXPECT_NE(msg.find("'t'"), std::string::npos);
  EXPECT_EQ(test::read_bytes(path), before);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp-" + std::to_string(::getpid())));
  EXPECT_EQ(GGUFFile::open(path)->get_int("version"), 1);
}

}  // namespace
}  // namespace steer
