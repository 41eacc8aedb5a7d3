// The ggml type table. Sizes are ggml's `type_traits` (ggml.c), equal to gguf-py's
// GGML_QUANT_SIZES (gguf-py 0.19).
#include "steer/ggml_types.h"

#include <cctype>
#include <limits>

#include "steer/error.h"

namespace steer {

namespace {

struct Row {
  uint32_t id;
  GGMLTypeTraits traits;
};

constexpr int64_t K = kQK_K;

// id, name, block size, type size
const Row kTable[] = {
    {0, {"F32", 1, 4}},
    {1, {"F16", 1, 2}},
    {2, {"Q4_0", 32, 2 + 16}},
    {3, {"Q4_1", 32, 2 + 2 + 16}},
    {4, {"Q4_2 (removed)", 0, 0}},
    {5, {"Q4_3 (removed)", 0, 0}},
    {6, {"Q5_0", 32, 2 + 4 + 16}},
    {7, {"Q5_1", 32, 2 + 2 + 4 + 16}},
    {8, {"Q8_0", 32, 2 + 32}},
    {9, {"Q8_1", 32, 4 + 4 + 32}},
    {10, {"Q2_K", K, 2 + 2 + K / 16 + K / 4}},
    {11, {"Q3_K", K, 2 + K / 4 + K / 8 + 12}},
    {12, {"Q4_K", K, 2 + 2 + K / 2 + 12}},
    {13, {"Q5_K", K, 2 + 2 + K / 2 + K / 8 + 12}},
    {14, {"Q6_K", K, 2 + K / 2 + K / 4 + K / 16}},
    {15, {"Q8_K", K, 4 + K + K / 8}},
    {16, {"IQ2_XXS", K, 2 + K / 4}},
    {17, {"IQ2_XS", K, 2 + K / 4 + K / 32}},
    {18, {"IQ3_XXS", K, 2 + K / 4 + K / 8}},
    {19, {"IQ1_S", K, 2 + K / 8 + K / 16}},
    {20, {"IQ4_NL", 32, 2 + 16}},
    {21, {"IQ3_S", K, 2 + K / 4 + K / 8 + K / 32 + 4}},
    {22, {"IQ2_S", K, 2 + K / 4 + K / 16}},
    {23, {"IQ4_XS", K, 2 + 2 + K / 2 + K / 64}},
    {24, {"I8", 1, 1}},
    {25, {"I16", 1, 2}},
    {26, {"I32", 1, 4}},
    {27, {"I64", 1, 8}},
    {28, {"F64", 1, 8}},
    {29, {"IQ1_M", K, K / 8 + K / 16 + K / 32}},
    {30, {"BF16", 1, 2}},
    {31, {"Q4_0_4_4 (removed)", 0, 0}},
    {32, {"Q4_0_4_8 (removed)", 0, 0}},
    {33, {"Q4_0_8_8 (removed)", 0, 0}},
    {34, {"TQ1_0", K, 2 + 4 * 13}},
    {35, {"TQ2_0", K, 2 + 64}},
    {36, {"IQ4_NL_4_4 (removed)", 0, 0}},
    {37, {"IQ4_NL_4_8 (removed)", 0, 0}},
    {38, {"IQ4_NL_8_8 (removed)", 0, 0}},
    {39, {"MXFP4", 32, 1 + 16}},
    {40, {"NVFP4", 64, 4 + 32}},
    {41, {"Q1_0", 128, 2 + 16}},
};

}  // namespace

GGMLTypeTraits ggml_type_traits(GGMLType type) {
  const uint32_t id = static_cast<uint32_t>(type);
  if (id < sizeof(kTable) / sizeof(kTable[0])) return kTable[id].traits;
  return {"unknown", 0, 0};
}

std::string ggml_type_name(GGMLType type) {
  const uint32_t id = static_cast<uint32_t>(type);
  if (id < sizeof(kTable) / sizeof(kTable[0])) return kTable[id].traits.name;
  return "type " + std::to_string(id) + " (unknown)";
}

bool ggml_type_known(GGMLType type) { return ggml_type_traits(type).block_size > 0; }

bool ggml_type_supported(GGMLType type) {
  switch (type) {
    case GGMLType::F32: case GGMLType::F16: case GGMLType::BF16:
    case GGMLType::Q4_0: case GGMLType::Q4_1: case GGMLType::Q5_0: case GGMLType::Q5_1:
    case GGMLType::Q8_0: case GGMLType::Q2_K: case GGMLType::Q3_K: case GGMLType::Q4_K:
    case GGMLType::Q5_K: case GGMLType::Q6_K:
      return true;
    default:
      return false;
  }
}

bool ggml_type_quantizable(GGMLType type) {
  switch (type) {
    case GGMLType::F32: case GGMLType::F16: case GGMLType::BF16:
    case GGMLType::Q4_0: case GGMLType::Q4_1: case GGMLType::Q5_0: case GGMLType::Q5_1:
    case GGMLType::Q8_0: case GGMLType::Q4_K: case GGMLType::Q5_K: case GGMLType::Q6_K:
      return true;
    default:
      return false;
  }
}

GGMLType ggml_type_from_name(const std::string& name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string known;
  for (const Row& row : kTable) {
    if (row.traits.block_size == 0) continue;
    if (upper == row.traits.name) return static_cast<GGMLType>(row.id);
    known += (known.empty() ? "" : ", ") + std::string(row.traits.name);
  }
  fail("unknown ggml type '" + name + "'", "use one of: " + known);
}

uint64_t ggml_nbytes(GGMLType type, const std::vector<int64_t>& ne) {
  const GGMLTypeTraits t = ggml_type_traits(type);
  if (t.block_size == 0) fail("tensor type " + ggml_type_name(type) + " has no known size");
  if (ne.empty()) return static_cast<uint64_t>(t.type_size);  // a scalar is one element
  for (int64_t d : ne) {
    if (d < 0) fail("tensor dimension " + std::to_string(d) + " is negative");
  }
  if (ne[0] % t.block_size != 0) {
    fail("tensor row length " + std::to_string(ne[0]) + " is not a multiple of the " +
         t.name + " block size " + std::to_string(t.block_size));
  }
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  uint64_t bytes = static_cast<uint64_t>(ne[0] / t.block_size) * static_cast<uint64_t>(t.type_size);
  for (size_t i = 1; i < ne.size(); ++i) {
    const uint64_t d = static_cast<uint64_t>(ne[i]);
    if (d != 0 && bytes > kMax / d) fail("tensor size overflows 64 bits");
    bytes *= d;
  }
  return bytes;
}

}  // namespace steer
