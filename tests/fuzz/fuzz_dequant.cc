// Dequantizers fed arbitrary blocks: the first byte picks the type; the rest is read as whole
// blocks of it. Any bit pattern (NaN/inf scales, out-of-range indices) must decode without a
// read outside the blocks; the round trip through quantize_row must too.
#include <vector>

#include "fuzz_target.h"
#include "io/dequant.h"
#include "steer/error.h"
#include "steer/ggml_types.h"

STEER_FUZZ_TARGET(dequant) {
  if (size < 1) return;
  const auto type = static_cast<steer::GGMLType>(data[0] % 40);
  if (!steer::ggml_type_supported(type)) return;
  const auto traits = steer::ggml_type_traits(type);
  const size_t blocks = (size - 1) / traits.type_size;
  if (blocks == 0) return;
  // Copy into an exactly-sized buffer so ASan sees any read past the last block.
  std::vector<uint8_t> src(data + 1, data + 1 + blocks * traits.type_size);
  const int64_t n = static_cast<int64_t>(blocks) * traits.block_size;
  std::vector<float> out(static_cast<size_t>(n));
  steer::dequantize_row(type, src.data(), out.data(), n);
  if (steer::ggml_type_quantizable(type)) {
    std::vector<uint8_t> again(src.size());
    steer::quantize_row(type, out.data(), again.data(), n);
  }
}
