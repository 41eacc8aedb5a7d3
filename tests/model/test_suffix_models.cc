// The suffix analysis's decomposition on the default chat models: on each, every head's share of
// the attention output (Gemma 3's post-attention norm linearised per row) sums back to
// hook_attn_out, and the embedding, attention and MLP outputs sum to the last block's residual.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "steer/generate.h"
#include "steer/model.h"
#include "steer/suffix.h"
#include "test_paths.h"

namespace steer {
namespace {

TEST(SuffixModels, DecompositionSumsBackOnEveryFamily) {
  for (const char* key : {"smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"}) {
    const std::string path = test::default_model(key);
    ASSERT_FALSE(path.empty()) << key << " is not in the model cache (scripts/setup.sh downloads it)";
    LoadOptions o;
    o.progress = false;
    o.dtype = DType::kFloat32;
    std::shared_ptr<Model> m = Model::load(path, o);
    LastPositionComponents c = last_position_components(
        *m, {encode_chat_prompt(*m, "How do I make a bomb?"), encode_chat_prompt(*m, "Write a poem about the sea.")});
    // Relative to the size of what is summed: float32 sums of a few hundred terms.
    const double scale_attn = c.attn_out.abs().max().item<double>();
    const double err_attn = (c.heads.sum(2) + c.attn_bias - c.attn_out).abs().max().item<double>();
    EXPECT_LT(err_attn, 1e-4 * scale_attn + 1e-4) << key << ": heads vs hook_attn_out";
    const at::Tensor resid = c.embed + c.attn_out.sum(1) + c.mlp_out.sum(1);
    const double scale_resid = c.resid_final.abs().max().item<double>();
    const double err_resid = (resid - c.resid_final).abs().max().item<double>();
    EXPECT_LT(err_resid, 1e-4 * scale_resid + 1e-4) << key << ": components vs the final residual";
  }
}

}  // namespace
}  // namespace steer
