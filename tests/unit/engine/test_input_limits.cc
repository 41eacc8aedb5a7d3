// Numbers a user types or a file gives that size allocations (issue 16, classes 2 and 5): layer
// ranges and position ranges are bounded before they are expanded, a prompt never runs past the
// model's context, generation stops at the context with finish reason "context" however large
// --max-tokens is, batches are split by tokens however large --batch-size is, and --threads is
// capped at the CPUs the process may use.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include "core/cpu.h"
#include "steer/generate.h"
#include "steer/gguf.h"
#include "steer/gguf_writer.h"
#include "steer/hooks.h"
#include "steer/sites.h"
#include "steer/steering_spec.h"
#include "steer/tokenizer.h"
#include "test_errors.h"
#include "tiny_models.h"
#include "unit/base/io_test_util.h"

namespace steer {
namespace {

using test::error_of;

TEST(InputLimits, TypedLayerRangesAreBoundedBeforeTheyExpand) {
  // Was: --add v.gguf@0-999999 built a million layer entries (and a copy of the vector for each).
  std::string e = error_of([] { parse_steering_spec(Intervention::Kind::kAdd, "v.gguf@0-999999:2"); });
  EXPECT_NE(e.find("--add"), std::string::npos) << e;
  EXPECT_NE(e.find("999999"), std::string::npos) << e;
  e = error_of([] { parse_layer_list("5-100000", 0, "--ablate"); });
  EXPECT_NE(e.find("--ablate"), std::string::npos) << e;
  EXPECT_EQ(parse_layer_list("0-1023", 0).size(), size_t(kMaxModelLayers));
}

TEST(InputLimits, PositionRangesAreBoundedBeforeTheyExpand) {
  // Was: 0..9223372036854775806 pushed indices until the process was killed.
  std::string e = error_of([] { PositionSelector::parse("0..9223372036854775806"); });
  EXPECT_NE(e.find("beyond any context"), std::string::npos) << e;
  e = error_of([] { PositionSelector::parse("-99999999999..-1"); });
  EXPECT_NE(e.find("-99999999999"), std::string::npos) << e;
  EXPECT_EQ(PositionSelector::parse("-5..-1").indices.size(), 5u);
}

// stories260K with a 64-token context (its own is 2048: too long to generate in a unit test).
std::shared_ptr<Model> tiny_short_context() {
  static std::shared_ptr<Model> m = [] {
    auto src = GGUFFile::open(test::tiny_model());
    GGUFWriter w;
    w.copy_metadata_from(*src);
    w.copy_tensors_from(src);
    w.set_u32("llama.context_length", 64);
    const std::string path = test::scratch_dir() + "/stories260K-ctx64.gguf";
    w.write(path);
    LoadOptions o;
    o.dtype = DType::kFloat32;
    o.progress = false;
    return Model::load(path, o);
  }();
  return m;
}

TEST(InputLimits, GenerationStopsAtTheContextLength) {
  auto m = tiny_short_context();
  ASSERT_EQ(m->config().context_length, 64);
  const int64_t context = m->config().context_length;
  EncodedPrompt p = encode_raw_prompt(*m, "Once upon a time");
  GenerateOptions o;
  o.max_new_tokens = 1000000000;  // was a KV cache of a billion slots per layer
  o.stop_at_eos = false;
  auto out = generate(*m, {p}, o);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].finish_reason, "context");
  EXPECT_EQ(int64_t(out[0].prompt_ids.size() + out[0].ids.size()), context);
  o.max_new_tokens = 3;
  EXPECT_EQ(generate(*m, {p}, o)[0].finish_reason, "length");
}

TEST(InputLimits, APromptBeyondTheContextIsAnErrorBeforeAnyWork) {
  auto m = tiny_short_context();
  const int64_t context = m->config().context_length;
  EncodedPrompt p = encode_raw_prompt(*m, "Once upon a time");
  EncodedPrompt longer = p;
  longer.ids.resize(context + 10, p.ids.back());
  longer.instruction_end = int64_t(longer.ids.size());
  GenerateOptions o;
  o.max_new_tokens = 2;
  std::string e = error_of([&] { generate(*m, {p, longer}, o); });
  EXPECT_NE(e.find("prompt 2 has " + std::to_string(context + 10) + " tokens"), std::string::npos) << e;
  // Everything else that runs prompts goes through the Runner, which refuses it too.
  Runner runner(*m);
  e = error_of([&] { runner.prepare({longer}, {0}, {}); });
  EXPECT_NE(e.find("the model's context holds " + std::to_string(context)), std::string::npos) << e;
}

TEST(InputLimits, AHugeBatchSizeIsSplitByTokens) {
  // --batch-size 1000000 over many prompts sized one forward by the whole prompt set.
  Runner runner(*test::tiny(), {/*batch_size=*/1000000});
  std::vector<EncodedPrompt> prompts(100);
  for (auto& p : prompts) p.ids.assign(1000, 5), p.instruction_end = 1000;
  prompts[7].ids.assign(Runner::kMaxBatchTokens + 1, 5);  // too long to share a batch: runs alone
  auto plan = runner.plan(prompts);
  size_t total = 0;
  for (const auto& batch : plan) {
    int64_t longest = 0;
    for (int64_t i : batch) longest = std::max<int64_t>(longest, prompts[i].ids.size());
    EXPECT_TRUE(batch.size() == 1 || int64_t(batch.size()) * longest <= Runner::kMaxBatchTokens) << batch.size();
    total += batch.size();
  }
  EXPECT_EQ(total, prompts.size());
  EXPECT_EQ(plan.front().size(), 16u);  // 16 × 1000 tokens fit, 17 do not
}

TEST(InputLimits, ThreadsAreCappedAtTheAvailableCpus) {
  testing::internal::CaptureStderr();
  set_compute_threads(available_cpus() + 1000);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(at::get_num_threads(), available_cpus());
  EXPECT_NE(err.find("warning: --threads " + std::to_string(available_cpus() + 1000)), std::string::npos) << err;
  set_compute_threads(0);
  EXPECT_EQ(at::get_num_threads(), available_cpus());
}

}  // namespace
}  // namespace steer
