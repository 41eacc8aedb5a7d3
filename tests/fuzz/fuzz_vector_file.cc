// Vector files as load_directions reads them: steer's safetensors (vectors + JSON metadata) and
// control-vector GGUF (llama.cpp's direction.N tensors, controlvector.* keys). The first byte
// picks the container; the rest is the file.
#include "fuzz_target.h"
#include "steer/directions.h"
#include "steer/error.h"

STEER_FUZZ_TARGET(vector_file) {
  if (size < 1) return;
  const char* name = (data[0] & 1) ? "vectors.gguf" : "vectors.safetensors";
  steer::DirectionSet set = steer::load_directions(steer::fuzz::write_input(data + 1, size - 1, name));
  for (int layer : set.layers()) (void)set.at_layer(layer);
  if (!set.empty()) (void)set.normalized();
}
