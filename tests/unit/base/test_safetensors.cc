// Safetensors: reading a file written by the `safetensors` Python package (made by
// tools/reference/make_io_fixtures.py; keep the content below in step with it), writing the
// same content byte for byte, round trips, corrupt headers, and sharded checkpoints.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/half.h"
#include "io_test_util.h"
#include "steer/safetensors.h"
#include "test_paths.h"

namespace steer {
namespace {

using test::expect_error;

std::string scratch(const std::string& name) { return test::scratch_dir() + "/" + name; }
std::string reference_path() { return test::test_data() + "/safetensors/reference.safetensors"; }

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::vector<uint8_t> f16s(std::initializer_list<float> v, bool bf16) {
  std::vector<uint16_t> h;
  for (float x : v) h.push_back(bf16 ? fp32_to_bf16(x) : fp32_to_fp16(x));
  return bytes_of(h);
}

TEST(Safetensors, ReadsAFileWrittenByPython) {
  auto f = SafetensorsFile::open(reference_path());
  EXPECT_EQ(f->metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ(f->tensors().size(), 11u);
  EXPECT_EQ(f->tensors().front().name, "d.i64");  // by offset: I64 first, as Python wrote it

  const auto& a = f->tensor("a.f32");
  EXPECT_EQ(a.dtype, SafetensorsDType::F32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f->to_float(a), (std::vector<float>{-1, -0.5f, 0, 0.5f, 1, 1.5f}));
  EXPECT_EQ(f->to_float(f->tensor("b.f16")),
            (std::vector<float>{1, -2.5f, 65504, fp16_to_fp32(fp32_to_fp16(6e-8f))}));
  EXPECT_EQ(f->to_float(f->tensor("c.bf16")),
            (std::vector<float>{1, -3, bf16_to_fp32(fp32_to_bf16(1e30f)), bf16_to_fp32(fp32_to_bf16(0.1f))}));
  int64_t i64[2];
  std::memcpy(i64, f->tensor_data(f->tensor("d.i64")), 16);
  EXPECT_EQ(i64[1], int64_t(1) << 40);
  EXPECT_EQ(f->tensor("e.i32").shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(f->tensor_data(f->tensor("f.u8"))[1], 255);
  EXPECT_EQ(f->tensor("g.bool").dtype, SafetensorsDType::BOOL);
  EXPECT_EQ(f->to_float(f->tensor("h.f64")), (std::vector<float>{3.5f}));
  EXPECT_EQ(static_cast<int8_t>(f->tensor_data(f->tensor("i.i8"))[0]), -128);
  const auto& scalar = f->tensor("j.scalar");
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.n_elements(), 1);
  EXPECT_EQ(f->to_float(scalar), (std::vector<float>{2.0f}));
  EXPECT_EQ(f->tensor("k.empty").n_bytes(), 0u);
  EXPECT_EQ(f->tensor("k.empty").shape, (std::vector<int64_t>{0, 3}));
  expect_error([&] { f->to_float(f->tensor("d.i64")); }, "'d.i64'");
  expect_error([&] { f->tensor("nope"); }, "nope");
  EXPECT_EQ(f->find_tensor("nope"), nullptr);
}

SafetensorsWriter reference_content() {
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  w.add_f32("a.f32", {2, 3}, {-1, -0.5f, 0, 0.5f, 1, 1.5f});
  w.add_tensor("b.f16", SafetensorsDType::F16, {4}, f16s({1.0f, -2.5f, 65504.0f, 6e-8f}, false));
  w.add_tensor("c.bf16", SafetensorsDType::BF16, {4}, f16s({1.0f, -3.0f, 1e30f, 0.1f}, true));
  w.add_tensor("d.i64", SafetensorsDType::I64, {2}, bytes_of(std::vector<int64_t>{-1, int64_t(1) << 40}));
  w.add_tensor("e.i32", SafetensorsDType::I32, {2, 2}, bytes_of(std::vector<int32_t>{1, -2, 3, -4}));
  w.add_tensor("f.u8", SafetensorsDType::U8, {3}, {0, 255, 7});
  w.add_tensor("g.bool", SafetensorsDType::BOOL, {3}, {1, 0, 1});
  w.add_tensor("h.f64", SafetensorsDType::F64, {1}, bytes_of(std::vector<double>{3.5}));
  w.add_tensor("i.i8", SafetensorsDType::I8, {2}, {0x80, 0x7f});
  w.add_f32("j.scalar", {}, {2.0f});
  w.add_f32("k.empty", {0, 3}, {});
  return w;
}

TEST(Safetensors, WriterIsByteIdenticalToPython) {
  const std::vector<uint8_t> want = test::read_bytes(reference_path());
  const SafetensorsWriter w = reference_content();
  const std::vector<uint8_t> got = w.to_bytes();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "first difference at byte " << i;
  const std::string path = scratch("ref.safetensors");
  w.write(path);
  EXPECT_EQ(test::read_bytes(path), want);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp-" + std::to_string(::getpid())));
}

TEST(Safetensors, RoundTrip) {
  SafetensorsWriter w;
  w.set_metadata("z", "last");
  w.set_metadata("a", "first \"quoted\" \xc3\xa9\n");
  std::vector<float> big(1000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i) * 0.001f;
  w.add_tensor_view("model.layers.0.weight", SafetensorsDType::F32, {10, 100}, big.data());
  w.add_tensor("u16", SafetensorsDType::U16, {1}, {1, 2});
  w.add_tensor("u64", SafetensorsDType::U64, {1, 1}, std::vector<uint8_t>(8, 0xff));
  w.add_tensor("odd", SafetensorsDType::U8, {5}, {1, 2, 3, 4, 5});
  const std::string path = scratch("roundtrip.safetensors");
  w.write(path);
  auto f = SafetensorsFile::open(path);
  EXPECT_EQ(f->metadata().at("a"), "first \"quoted\" \xc3\xa9\n");
  EXPECT_EQ(f->metadata().size(), 2u);
  EXPECT_EQ(f->to_float(f->tensor("model.layers.0.weight")), big);
  EXPECT_EQ(f->tensor("u64").shape, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(f->tensor_data(f->tensor("odd"))[4], 5);
  EXPECT_EQ(f->data_offset() % 8, 0u);  // header padded to 8 bytes
  EXPECT_EQ(f->tensors().front().name, "u64");  // 8-byte dtypes first

  expect_error([&] { w.add_f32("odd", {1}, {1.f}); }, "duplicate tensor name 'odd'");
  expect_error([&] { w.add_f32("__metadata__", {1}, {1.f}); }, "reserved");
  expect_error([&] { w.add_tensor("x", SafetensorsDType::F32, {3}, std::vector<uint8_t>(8)); }, "needs 12");
  expect_error([] { safetensors_dtype_from_name("F4"); }, "unknown safetensors dtype 'F4'");
}

// A file from a header string and a data size (zeros).
std::vector<uint8_t> make_file(const std::string& header, size_t data_bytes, int64_t declared_len = -1) {
  std::vector<uint8_t> b(8 + header.size() + data_bytes, 0);
  const uint64_t n = declared_len >= 0 ? static_cast<uint64_t>(declared_len) : header.size();
  std::memcpy(b.data(), &n, 8);
  std::memcpy(b.data() + 8, header.data(), header.size());
  return b;
}

std::string expect_open_error(const std::vector<uint8_t>& bytes, const std::string& needle) {
  const std::string path = scratch("bad.safetensors");
  test::write_bytes(path, bytes);
  const std::string msg = expect_error([&] { SafetensorsFile::open(path); }, needle);
  EXPECT_NE(msg.find(path), std::string::npos) << "error does not name the file: " << msg;
  return msg;
}

TEST(Safetensors, CorruptHeadersAreNamed) {
  const std::string t = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string ok = "{" + t + "}";
  {
    const std::string path = scratch("ok.safetensors");
    test::write_bytes(path, make_file(ok, 8));
    EXPECT_EQ(SafetensorsFile::open(path)->tensors().size(), 1u);  // the baseline is valid
  }
  expect_open_error({1, 2, 3}, "8-byte header length");
  expect_open_error(make_file(ok, 8, 1000), "runs past the end");
  expect_open_error(make_file(ok, 8, 200'000'000), "100 MB");
  expect_open_error(make_file("[1,2]", 0), "does not start with '{'");
  expect_open_error(make_file("{\"t\":", 0), "not valid JSON");
  expect_open_error(make_file("{\"t\":\"\xff\xfe\"}", 0), "not valid JSON");
  expect_open_error(make_file(R"({"__metadata__":{"k":1},)" + t + "}", 8), "__metadata__ value of 'k'");
  expect_open_error(make_file(R"({"t":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}})", 8), "F99");
  expect_open_error(make_file(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "non-negative");
  expect_open_error(make_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4), "needs 8 bytes");
  expect_open_error(make_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "end before");
  expect_open_error(make_file(R"({"t":{"dtype":"F32","shape":[2]}})", 8), "data_offsets");
  expect_open_error(make_file(R"({"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", 8),
                    "overflows");
  expect_open_error(make_file(ok, 4), "past the 4 bytes of data");
  expect_open_error(make_file(ok, 12), "4 bytes after the last tensor");
  expect_open_error(make_file("{" + t + R"(,"u":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), "overlap");
  expect_open_error(make_file(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), "belong to no tensor");
  expect_error([] { SafetensorsFile::open(test::tiny_model()); }, "header length");
}

TEST(Safetensors, ShardedCheckpoint) {
  const std::string dir = test::test_data() + "/safetensors/sharded";
  for (const std::string& path : {dir, dir + "/model.safetensors.index.json"}) {
    SafetensorsModel m = SafetensorsModel::open(path);
    EXPECT_EQ(m.shards().size(), 2u);
    EXPECT_EQ(m.tensor_names(), (std::vector<std::string>{"model.embed_tokens.weight",
                                                          "model.layers.0.mlp.up_proj.weight", "model.norm.weight"}));
    const auto e = m.get("model.norm.weight");
    EXPECT_EQ(e.file->to_float(*e.info), (std::vector<float>{1, 2, 3}));
    const auto emb = m.get("model.embed_tokens.weight");
    EXPECT_EQ(emb.info->shape, (std::vector<int64_t>{4, 3}));
    EXPECT_EQ(emb.file->to_float(*emb.info)[11], 11.0f);
    EXPECT_EQ(m.find("nope").file, nullptr);
    expect_error([&] { m.get("nope"); }, "nope");
  }
  SafetensorsModel single = SafetensorsModel::open(reference_path());
  EXPECT_EQ(single.tensor_names().size(), 11u);

  // A checkpoint directory with a single model.safetensors.
  const std::string one = scratch("one");
  std::filesystem::create_directories(one);
  std::filesystem::copy_file(reference_path(), one + "/model.safetensors", std::filesystem::copy_options::overwrite_existing);
  EXPECT_TRUE(SafetensorsModel::open(one).has("a.f32"));

  // Broken indexes.
  const std::string bad = scratch("badidx");
  std::filesystem::create_directories(bad);
  auto write_index = [&](const std::string& text) {
    std::ofstream(bad + "/model.safetensors.index.json") << text;
  };
  write_index(R"({"weight_map": {"x": "missing.safetensors"}})");
  expect_error([&] { SafetensorsModel::open(bad); }, "missing.safetensors");
  std::filesystem::copy_file(reference_path(), bad + "/shard.safetensors", std::filesystem::copy_options::overwrite_existing);
  write_index(R"({"weight_map": {"not.there": "shard.safetensors"}})");
  expect_error([&] { SafetensorsModel::open(bad); }, "does not contain it");
  write_index(R"({"weight_map": {"a.f32": "../shard.safetensors"}})");
  expect_error([&] { SafetensorsModel::open(bad); }, "not a plain file name");
  write_index(R"({"metadata": {}})");
  expect_error([&] { SafetensorsModel::open(bad); }, "weight_map");
  write_index("{nope");
  expect_error([&] { SafetensorsModel::open(bad); }, "not valid JSON");
  expect_error([&] { SafetensorsModel::open(scratch("")); }, "neither model.safetensors");
}

}  // namespace
}  // namespace steer
