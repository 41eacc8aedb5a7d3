// safetensors reader: the 8-byte header length, the JSON header (dtypes, shapes, offsets,
// __metadata__), then every tensor's bytes and its float conversion where the dtype has one.
#include "fuzz_target.h"
#include "steer/error.h"
#include "steer/safetensors.h"

STEER_FUZZ_TARGET(safetensors) {
  auto file = steer::SafetensorsFile::open(steer::fuzz::write_input(data, size, "input.safetensors"));
  volatile uint8_t sum = 0;
  for (const auto& t : file->tensors()) {
    const uint8_t* p = file->tensor_data(t);
    if (t.n_bytes()) sum = sum + p[0] + p[t.n_bytes() - 1];
    try {
      (void)file->to_float(t);
    } catch (const steer::Error&) {
    }
  }
}
