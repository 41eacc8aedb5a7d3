// GGUF reader on the tiny real model (stories260K.gguf; facts cross-checked with gguf-py's
// GGUFReader) and on damaged copies of it: every truncation and corruption must give a
// steer::Error naming the file and the problem, never a crash or a silent success.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "io_test_util.h"
#include "steer/gguf.h"
#include "steer/gguf_writer.h"
#include "test_paths.h"

namespace steer {
namespace {

using test::expect_error;

std::string scratch(const std::string& name) { return test::scratch_dir() + "/" + name; }

// Offsets inside stories260K.gguf (from gguf-py and a byte search; checked below).
constexpr size_t kTokensCountAt = 61;        // u64 length of the tokenizer.ggml.tokens array
constexpr size_t kFirstTensorInfoAt = 11347; // u64 name length of "token_embd.weight"
constexpr size_t kEosKeyAt = 10885;          // "tokenizer.ggml.eos_token_id"
constexpr size_t kAttnKNameAt = 11574;       // "blk.0.attn_k.weight"
constexpr uint64_t kDataOffset = 14176;

template <class T>
void poke(std::vector<uint8_t>& b, size_t at, T v) {
  ASSERT_LE(at + sizeof(T), b.size());
  std::memcpy(b.data() + at, &v, sizeof(T));
}

// Writes `bytes` to a scratch file and expects opening it to fail mentioning `needle`.
std::string expect_open_error(const std::vector<uint8_t>& bytes, const std::string& needle) {
  const std::string path = scratch("bad.gguf");
  test::write_bytes(path, bytes);
  const std::string msg = expect_error([&] { GGUFFile::open(path); }, needle);
  EXPECT_NE(msg.find(path), std::string::npos) << "error does not name the file: " << msg;
  return msg;
}

TEST(GGUFReader, ReadsTheTinyModel) {
  auto f = GGUFFile::open(test::tiny_model());
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->metadata().size(), 19u);
  EXPECT_EQ(f->tensors().size(), 48u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->data_offset(), kDataOffset);
  EXPECT_EQ(f->metadata().front().first, "tokenizer.ggml.tokens");  // file order
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("llama.block_count"), 5);
  EXPECT_EQ(f->get_int("llama.feed_forward_length"), 172);
  EXPECT_EQ(f->get_int("tokenizer.ggml.seperator_token_id"), 4294967295LL);  // UINT32 max fits
  EXPECT_EQ(f->get_float("llama.attention.layer_norm_rms_epsilon"), static_cast<double>(1e-5f));
  EXPECT_EQ(f->get("llama.block_count").type(), GGUFValueType::UINT32);

  const auto tokens = f->get_strings("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 512u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[259], "\xe2\x96\x81t");  // "▁t"
  const auto scores = f->get_floats("tokenizer.ggml.scores");
  ASSERT_EQ(scores.size(), 512u);
  EXPECT_EQ(scores[300], -41.0f);
  const auto types = f->get_ints("tokenizer.ggml.token_type");
  ASSERT_EQ(types.size(), 512u);
  EXPECT_EQ(types[0], 2);
  EXPECT_EQ(f->get("tokenizer.ggml.token_type").element_type(), GGUFValueType::INT32);

  const GGUFTensorInfo& emb = f->tensor("token_embd.weight");
  EXPECT_EQ(emb.ne, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(emb.type, GGMLType::F32);
  EXPECT_EQ(emb.offset, 0u);
  EXPECT_EQ(emb.n_elements(), 64 * 512);
  EXPECT_EQ(emb.n_bytes(), 131072u);
  const float* w = reinterpret_cast<const float*>(f->tensor_data(emb));
  EXPECT_EQ(w[0], -0.29474878311157227f);
  EXPECT_EQ(w[1], 0.5618956089019775f);
  double sum = 0;
  for (int64_t i = 0; i < emb.n_elements(); ++i) sum += w[i];
  EXPECT_NEAR(sum, -752.3677446640068, 1e-9);  // gguf-py, float64 sum of the same floats

  EXPECT_EQ(f->tensor("blk.4.ffn_norm.weight").offset + kDataOffset, 1185120u);
  EXPECT_EQ(f->find_tensor("nope"), nullptr);
  EXPECT_EQ(f->tensors()[0].name, "token_embd.weight");
}

TEST(GGUFReader, ReadsVersion2) {
  // v2 differs from v3 only in allowing big-endian files; the layout is the same.
  std::vector<uint8_t> b = test::read_bytes(test::test_data() + "/gguf/writer_reference.gguf");
  poke<uint32_t>(b, 4, 2);
  const std::string path = scratch("v2.gguf");
  test::write_bytes(path, b);
  auto f = GGUFFile::open(path);
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(f->get_int("t.u8"), 200);
  EXPECT_EQ(f->tensors().size(), 4u);
}

TEST(GGUFReader, GettersNameKeyFileAndTypes) {
  auto f = GGUFFile::open(test::tiny_model());
  std::string m = expect_error([&] { f->get("no.such.key"); }, "no.such.key");
  EXPECT_NE(m.find("stories260K.gguf"), std::string::npos);
  m = expect_error([&] { f->get_string("llama.block_count"); }, "llama.block_count");
  EXPECT_NE(m.find("UINT32"), std::string::npos);
  expect_error([&] { f->get_float("llama.block_count"); }, "FLOAT32 or FLOAT64");
  expect_error([&] { f->get_int("general.name"); }, "STRING");
  expect_error([&] { f->get_bool("general.name"); }, "BOOL");
  expect_error([&] { f->get_strings("tokenizer.ggml.scores"); }, "array of FLOAT32");
  expect_error([&] { f->get_ints("tokenizer.ggml.tokens"); }, "integers");
  expect_error([&] { f->tensor("no.such.tensor"); }, "no.such.tensor");
  // Defaults apply only to absent keys; a present key of the wrong type still throws.
  EXPECT_EQ(f->get_int("absent", 7), 7);
  EXPECT_EQ(f->get_string("absent", "x"), "x");
  EXPECT_EQ(f->get_float("absent", 0.5), 0.5);
  EXPECT_TRUE(f->get_bool("absent", true));
  EXPECT_EQ(f->get_int("llama.block_count", 7), 5);
  expect_error([&] { f->get_int("general.name", 0); }, "general.name");
  EXPECT_TRUE(f->has("general.name"));
  EXPECT_FALSE(f->has("absent"));

  // A tensor info from elsewhere is not served.
  GGUFTensorInfo fake = f->tensor("output.weight");
  fake.offset += 32;
  expect_error([&] { f->tensor_data(fake); }, "does not belong");
}

TEST(GGUFReader, EveryTruncationIsAnError) {
  const std::vector<uint8_t> full = test::read_bytes(test::tiny_model());
  ASSERT_EQ(full.size(), 1185376u);
  std::vector<size_t> cuts;
  for (size_t n = 0; n < 2048; ++n) cuts.push_back(n);                  // header, first keys
  for (size_t n = 2048; n < kDataOffset + 64; n += 13) cuts.push_back(n);  // vocab, tensor infos
  for (size_t n : {size_t(kDataOffset - 1), size_t(kDataOffset), size_t(kDataOffset + 1), size_t(600000), full.size() - 1}) {
    cuts.push_back(n);
  }
  const std::string path = scratch("truncated.gguf");
  int errors = 0;
  for (size_t n : cuts) {
    test::write_bytes(path, full.data(), n);
    try {
      GGUFFile::open(path);
      ADD_FAILURE() << "a " << n << "-byte prefix opened without error";
    } catch (const Error& e) {
      ++errors;
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "prefix " << n << ": not a steer::Error: " << e.what();
    }
  }
  EXPECT_EQ(errors, static_cast<int>(cuts.size()));
  // The messages say what is wrong and hint at the cure.
  test::write_bytes(path, full.data(), 100);
  try {
    GGUFFile::open(path);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    EXPECT_NE(e.hint().find("fetch it again"), std::string::npos) << e.hint();
  }
  test::write_bytes(path, full.data(), full.size() - 1);
  expect_error([&] { GGUFFile::open(path); }, "runs past the end of the file");
}

TEST(GGUFReader, CorruptHeadersAreNamed) {
  const std::vector<uint8_t> good = test::read_bytes(test::tiny_model());
  auto patched = [&](auto&& f) {
    std::vector<uint8_t> b = good;
    f(b);
    return b;
  };
  // Sanity of the offsets used below.
  uint64_t len;
  std::memcpy(&len, good.data() + kFirstTensorInfoAt, 8);
  ASSERT_EQ(len, 17u);
  ASSERT_EQ(std::memcmp(good.data() + kEosKeyAt, "tokenizer.ggml.eos_token_id", 27), 0);
  ASSERT_EQ(std::memcmp(good.data() + kAttnKNameAt, "blk.0.attn_k.weight", 19), 0);
  std::memcpy(&len, good.data() + kTokensCountAt, 8);
  ASSERT_EQ(len, 512u);

  expect_open_error(patched([](auto& b) { b[3] = 'X'; }), "bad magic");
  expect_open_error({}, "bad magic");
  expect_open_error(patched([](auto& b) { poke<uint32_t>(b, 4, 1); }), "version 1");
  expect_open_error(patched([](auto& b) { poke<uint32_t>(b, 4, 4); }), "unsupported GGUF version 4");
  expect_open_error(patched([](auto& b) { poke<uint32_t>(b, 4, 0x03000000); }), "big-endian");
  expect_open_error(patched([](auto& b) { poke<uint64_t>(b, 8, uint64_t(1) << 60); }), "tensor count");
  expect_open_error(patched([](auto& b) { poke<uint64_t>(b, 16, uint64_t(1) << 60); }), "metadata key/value count");
  expect_open_error(patched([](auto& b) { poke<uint64_t>(b, 24, uint64_t(1) << 62); }), "runs past the end");
  expect_open_error(patched([](auto& b) { poke<uint32_t>(b, 53, 99); }), "unknown value type 99");
  expect_open_error(patched([](auto& b) { poke<uint32_t>(b, 57, 13); }), "unknown element type 13");
  expect_open_error(patched([](auto& b) { poke<uint64_t>(b, kTokensCountAt, uint64_t(1) << 40); }), "cannot fit");
  expect_open_error(patched([](auto& b) { std::memcpy(b.data() + kEosKeyAt, "tokenizer.ggml.bos_token_id", 27); }),
                    "duplicate metadata key 'tokenizer.ggml.bos_token_id'");
  expect_open_error(patched([](auto& b) { std::memcpy(b.data() + kAttnKNameAt, "blk.0.attn_q.weight", 19); }),
                    "duplicate tensor name 'blk.0.attn_q.weight'");
  const size_t dims_at = kFirstTensorInfoAt + 8 + 17;
  const size_t type_at = dims_at + 4 + 16;
  const size_t offset_at = type_at + 4;
  expect_open_error(patched([&](auto& b) { poke<uint32_t>(b, dims_at, 5); }), "5 dimensions");
  expect_open_error(patched([&](auto& b) { poke<uint64_t>(b, dims_at + 4, uint64_t(1) << 63); }), "too large");
  expect_open_error(patched([&](auto& b) { poke<uint64_t>(b, dims_at + 4, uint64_t(1) << 40); }), "runs past the end");
  expect_open_error(patched([&](auto& b) { poke<uint32_t>(b, type_at, 4); }), "Q4_2 (removed)");
  expect_open_error(patched([&](auto& b) { poke<uint32_t>(b, type_at, 1000); }), "type 1000 (unknown)");
  expect_open_error(patched([&](auto& b) { poke<uint32_t>(b, type_at, 12); }), "not a multiple of the Q4_K block size");
  expect_open_error(patched([&](auto& b) { poke<uint64_t>(b, offset_at, 16); }), "not a multiple of the alignment 32");
  expect_open_error(patched([&](auto& b) { poke<uint64_t>(b, offset_at, uint64_t(1) << 40); }), "runs past the end");
  expect_open_error(patched([&](auto& b) { poke<uint64_t>(b, offset_at, ~uint64_t(31)); }), "runs past the end");

  // Not a file.
  expect_error([] { GGUFFile::open(test::test_data()); }, "not a regular file");
  expect_error([] { GGUFFile::open("/nonexistent/model.gguf"); }, "cannot open");
  // A safetensors file gets a hint.
  try {
    GGUFFile::open(test::test_data() + "/safetensors/reference.safetensors");
    ADD_FAILURE() << "opened a safetensors file as GGUF";
  } catch (const Error& e) {
    EXPECT_NE(e.hint().find("safetensors"), std::string::npos) << e.hint();
  }
}

TEST(GGUFReader, BadMetadataFromTheWriter) {
  // Files with legal framing but illegal content.
  GGUFWriter w;
  w.set("k", GGUFValue::boolean(true));
  std::vector<uint8_t> b = w.to_bytes();
  // Header 24 + key (8 + 1) + type 4 = 37: the BOOL byte.
  ASSERT_EQ(b[37], 1);
  b[37] = 2;
  expect_open_error(b, "neither 0 nor 1");

  GGUFWriter w2;
  w2.set("general.alignment", GGUFValue::u32(32));
  b = w2.to_bytes();
  poke<uint32_t>(b, 24 + 8 + 17 + 4, 48);  // value: not a power of two
  expect_open_error(b, "not a power of two");
  poke<uint32_t>(b, 24 + 8 + 17, static_cast<uint32_t>(GGUFValueType::INT32));
  expect_open_error(b, "general.alignment is INT32");

  // Arrays nested 20 deep.
  GGUFValue v = GGUFValue::ints(GGUFValueType::INT32, {1});
  for (int i = 0; i < 20; ++i) v = GGUFValue::arrays({v});
  GGUFWriter w3;
  w3.set("deep", v);
  expect_open_error(w3.to_bytes(), "nested deeper");
}

TEST(GGUFReader, HintsAtTextModeCopies) {
  // A binary file copied as text gets invalid UTF-8 bytes replaced by U+FFFD (EF BF BD).
  GGUFWriter w;
  w.set("eps", GGUFValue::f32(1e-5f));  // bytes ac c5 27 37
  w.set("name", GGUFValue::string("x"));
  std::vector<uint8_t> b = w.to_bytes();
  const size_t at = 24 + 8 + 3 + 4;
  ASSERT_EQ(b[at], 0xac);
  b[at] = 0xef;
  b.insert(b.begin() + at + 1, {0xbf, 0xbd});
  const std::string path = scratch("textcopy.gguf");
  test::write_bytes(path, b);
  try {
    GGUFFile::open(path);
    ADD_FAILURE() << "a text-mangled file opened";
  } catch (const Error& e) {
    EXPECT_NE(e.hint().find("copied as text"), std::string::npos) << e.hint();
  }
}

TEST(GGUFReader, RandomByteFlipsNeverCrash) {
  // Flip 1-4 random bytes of a small, fully featured file (every value type, nested arrays,
  // four tensors) 2000 times: every outcome must be a clean parse or a steer::Error.
  const std::vector<uint8_t> good = test::read_bytes(test::test_data() + "/gguf/writer_reference.gguf");
  ASSERT_GT(good.size(), 1000u);
  std::mt19937 rng(1234);
  const std::string path = scratch("flipped.gguf");
  int parsed = 0, rejected = 0;
  for (int it = 0; it < 2000; ++it) {
    std::vector<uint8_t> b = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      // Bias towards the header (the data section cannot break parsing).
      const size_t at = rng() % 4 ? rng() % 700 : rng() % b.size();
      b[at] = static_cast<uint8_t>(rng());
    }
    test::write_bytes(path, b);
    try {
      auto f = GGUFFile::open(path);
      for (const auto& t : f->tensors()) (void)f->tensor_data(t)[t.n_bytes() ? t.n_bytes() - 1 : 0];
      ++parsed;
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 300);
  EXPECT_GT(parsed, 100);
}

}  // namespace
}  // namespace steer
