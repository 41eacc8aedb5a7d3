// Writing a loaded model's weights as a Hugging Face safetensors checkpoint (HF names and
// layout, fused q/k/v and gate/up split back, Gemma norms stored as w = multiplier − 1).
// Used to export edited models and to test the HF loader against the GGUF one.
#pragma once
#include <string>

namespace steer {

class Model;

// Writes `path` (a .safetensors file) atomically, float32. Tied embeddings are written once.
void save_hf_weights(const Model& model, const std::string& path);

}  // namespace steer
