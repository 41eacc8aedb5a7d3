// Activation capture on the real tiny model (stories260K, F32): batched left-padded capture
// equals one prompt at a time and equals activations read directly by a hook; sums are
// float64; mean modes; save/load/merge; option parsing and errors.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "steer/error.h"
#include "steer/capture.h"
#include "steer/generate.h"
#include "steer/model.h"
#include "steer/tokenizer.h"
#include "test_errors.h"
#include "test_paths.h"
#include "tiny_models.h"

namespace steer {
namespace {

using test::tiny;
using test::tiny_chat;

const std::vector<std::string> kTexts = {
    "Once upon a time", "The little dog ran to the park and saw a big red ball", "Lily ran", "Tom was sad.",
    "She had a cat named Max who liked to play in the garden every day", "The sun"};

std::vector<EncodedPrompt> encoded(const Model& m, const std::vector<std::string>& texts = kTexts) {
  std::vector<EncodedPrompt> out;
  for (const auto& t : texts) {
    EncodedPrompt p;
    p.ids = m.tokenizer().encode(t, true);
    p.instruction_end = int64_t(p.ids.size()) - 2;  // pretend the last two tokens are a template tail
    out.push_back(p);
  }
  return out;
}

// Every per-layer site of one prompt, read by a plain hook on a single-row forward: [T, d].
std::map<std::pair<int, int>, at::Tensor> direct(const Model& m, const EncodedPrompt& p) {
  std::map<std::pair<int, int>, at::Tensor> out;
  HookSet hooks(m.config().n_layers);
  for (int l = 0; l < m.config().n_layers; ++l)
    for (SiteKind s : {SiteKind::kResidPre, SiteKind::kResidPost, SiteKind::kMlpOut})
      hooks.add({s, l}, [&out, s, l](at::Tensor& x, const HookContext&) { out[{int(s), l}] = x[0].clone(); });
  BatchState st;
  m.forward(make_batch({p.ids}, m.pad_id(), st), st, {&hooks, LogitsMode::kNone});
  return out;
}

double max_rel(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>() /
         std::max(1e-12, b.to(at::kDouble).abs().max().item<double>());
}

// fp32 forward with different batch shapes: reduction order differs.
constexpr double kBatchTol = 1e-5;

CaptureOptions options(CapturePositions pos, int batch) {
  CaptureOptions o;
  o.sites = {SiteKind::kResidPre, SiteKind::kResidPost, SiteKind::kMlpOut};
  o.positions = std::move(pos);
  o.keep_examples = true;
  o.batch_size = batch;
  o.progress = false;
  return o;
}

TEST(Capture, BatchedLeftPaddedEqualsDirectReadsAtExplicitPositions) {
  auto m = tiny();
  auto prompts = encoded(*m);
  const std::vector<int64_t> idx = {-3, -2, -1, 0, 1};
  Activations acts = capture(*m, prompts, options(CapturePositions::explicit_indices(idx), 4));
  ASSERT_EQ(acts.count(), int64_t(prompts.size()));
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto ref = direct(*m, prompts[i]);
    const int64_t T = prompts[i].ids.size();
    for (auto& [key, x] : ref) {
      at::Tensor got = acts.examples(SiteKind(key.first), key.second)[i];  // [5, d]
      for (size_t p = 0; p < idx.size(); ++p) {
        int64_t t = idx[p] < 0 ? T + idx[p] : idx[p];
        EXPECT_LT(max_rel(got[p], x[t]), kBatchTol)
            << "prompt " << i << " " << site_name({SiteKind(key.first), key.second}) << " pos " << idx[p];
      }
    }
  }
}

TEST(Capture, BatchedEqualsOneAtATime) {
  auto m = tiny();
  auto prompts = encoded(*m);
  auto pos = CapturePositions::explicit_indices({-2, -1});
  Activations batched = capture(*m, prompts, options(pos, 3));
  for (size_t i = 0; i < prompts.size(); ++i) {
    Activations one = capture(*m, {prompts[i]}, options(pos, 1));
    for (int l = 0; l < m->config().n_layers; ++l)
      EXPECT_LT(max_rel(batched.examples(SiteKind::kResidPost, l)[i], one.examples(SiteKind::kResidPost, l)[0]),
                kBatchTol)
          << "prompt " << i << " layer " << l;
  }
}

TEST(Capture, SumsAreFloat64AndEqualTheSumOfExamples) {
  auto m = tiny();
  Activations acts = capture(*m, encoded(*m), options(CapturePositions::explicit_indices({-1, 0}), 4));
  for (int l : acts.layers()) {
    const at::Tensor& s = acts.sum(SiteKind::kResidPre, l);
    ASSERT_EQ(s.scalar_type(), at::kDouble);
    ASSERT_EQ(s.sizes(), at::IntArrayRef({2, m->config().d_model}));
    // The examples are the exact float32 values that were summed in float64: only the
    // summation order differs.
    at::Tensor brute = acts.examples(SiteKind::kResidPre, l).to(at::kDouble).sum(0);
    EXPECT_LT(max_rel(s, brute), 1e-13) << "layer " << l;
    EXPECT_LT(max_rel(acts.mean(SiteKind::kResidPre, l), brute / double(acts.count())), 1e-13);
  }
}

// Float32 accumulation would lose every +1 after 2^24; float64 keeps them.
TEST(Capture, AccumulatesInFloat64) {
  auto m = tiny();
  std::vector<EncodedPrompt> prompts(5, encoded(*m, {"Once upon a time"})[0]);
  HookSet base(m->config().n_layers);
  int calls = 0;
  base.add({SiteKind::kResidPre, 1}, [&](at::Tensor& x, const HookContext&) {
    x = at::full_like(x, calls++ == 0 ? 16777216.0 : 1.0);
  });
  CaptureOptions o;
  o.layers = {1};
  o.batch_size = 1;
  o.progress = false;
  Activations acts = capture(*m, prompts, o, &base);
  EXPECT_EQ(calls, 5);
  at::Tensor s = acts.sum(SiteKind::kResidPre, 1);
  EXPECT_EQ(s.min().item<double>(), 16777220.0);
  EXPECT_EQ(s.max().item<double>(), 16777220.0);
  EXPECT_EQ(float(16777216.f + 1.f), 16777216.f) << "the premise: float32 loses the +1";
}

TEST(Capture, MeanModesEqualDirectMeans) {
  auto m = tiny();
  auto prompts = encoded(*m);
  Activations pm = capture(*m, prompts, options(CapturePositions::prompt_mean(), 4));
  Activations am = capture(*m, prompts, options(CapturePositions::after_instruction_mean(), 4));
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto ref = direct(*m, prompts[i]);
    const int64_t T = prompts[i].ids.size();
    for (int l : {0, m->config().n_layers - 1}) {
      at::Tensor x = ref[{int(SiteKind::kResidPost), l}].to(at::kDouble);  // [T, d]
      EXPECT_LT(max_rel(pm.examples(SiteKind::kResidPost, l)[i][0], x.mean(0)), kBatchTol) << i;
      EXPECT_LT(max_rel(am.examples(SiteKind::kResidPost, l)[i][0], x.narrow(0, T - 2, 2).mean(0)), kBatchTol) << i;
    }
  }
}

TEST(Capture, StoppingEarlyChangesNothing) {
  auto m = tiny();
  auto prompts = encoded(*m);
  CaptureOptions o = options(CapturePositions::explicit_indices({-1}), 6);
  Activations all = capture(*m, prompts, o);
  o.layers = {1};
  Activations one = capture(*m, prompts, o);
  EXPECT_TRUE(at::equal(all.sum(SiteKind::kMlpOut, 1), one.sum(SiteKind::kMlpOut, 1)));
  EXPECT_FALSE(one.has(SiteKind::kMlpOut, 2));
  EXPECT_THROW(one.sum(SiteKind::kMlpOut, 2), Error);
}

// Reading only hook_resid_pre ends the pass before the deepest layer's block runs; what it reads
// must equal the same site read from a pass that runs that block (and one more site).
TEST(Capture, ResidPreOnlySkipsTheDeepestBlockAndChangesNothing) {
  auto m = tiny();
  auto prompts = encoded(*m);
  const int last = m->config().n_layers - 1;
  CaptureOptions o = options(CapturePositions::explicit_indices({-2, -1}), 6);
  o.sites = {SiteKind::kResidPre, SiteKind::kResidPost};
  Activations full = capture(*m, prompts, o);
  o.sites = {SiteKind::kResidPre};
  Activations pre = capture(*m, prompts, o);
  for (int l = 0; l <= last; ++l)
    EXPECT_TRUE(at::equal(full.sum(SiteKind::kResidPre, l), pre.sum(SiteKind::kResidPre, l))) << "layer " << l;
}

TEST(Capture, SaveLoadAndMerge) {
  auto m = tiny();
  auto prompts = encoded(*m);
  CaptureOptions o = options(CapturePositions::explicit_indices({-2, -1}), 4);
  Activations whole = capture(*m, prompts, o);
  whole.info["model"] = "stories260K";
  std::string path = (std::filesystem::temp_directory_path() / ("steer-acts-" + std::to_string(::getpid()) + ".safetensors")).string();
  whole.save(path);
  // The bytes are safetensors, so the name must say so (issue 16, class 6); model names that
  // are not valid UTF-8 do not stop the save (class 3).
  const std::string gguf = path.substr(0, path.size() - 11) + "gguf";
  EXPECT_NE(test::error_of([&] { whole.save(gguf); }).find("written as safetensors"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(gguf));
  whole.info["model_file"] = "caf\xE9.gguf";
  EXPECT_NO_THROW(whole.save(path));
  whole.info.erase("model_file");
  whole.save(path);
  Activations back = Activations::load(path);
  EXPECT_EQ(back.count(), whole.count());
  EXPECT_EQ(back.layers(), whole.layers());
  EXPECT_EQ(back.sites(), whole.sites());
  EXPECT_EQ(back.positions().to_string(), "-2,-1");
  EXPECT_EQ(back.info["model"], "stories260K");
  for (int l : whole.layers()) {
    EXPECT_TRUE(at::equal(back.sum(SiteKind::kResidPost, l), whole.sum(SiteKind::kResidPost, l)));
    EXPECT_TRUE(at::equal(back.examples(SiteKind::kResidPost, l), whole.examples(SiteKind::kResidPost, l)));
  }
  // Shards merge into the whole: sums and counts add, examples append in order.
  std::vector<EncodedPrompt> a(prompts.begin(), prompts.begin() + 2), b(prompts.begin() + 2, prompts.end());
  Activations merged = capture(*m, a, o);
  merged.merge(capture(*m, b, o));
  EXPECT_EQ(merged.count(), whole.count());
  for (int l : whole.layers()) {
    EXPECT_LT(max_rel(merged.sum(SiteKind::kResidPre, l), whole.sum(SiteKind::kResidPre, l)), kBatchTol);
    EXPECT_LT(max_rel(merged.examples(SiteKind::kResidPre, l), whole.examples(SiteKind::kResidPre, l)), kBatchTol);
  }
  CaptureOptions other = o;
  other.positions = CapturePositions::explicit_indices({-1});
  EXPECT_THROW(merged.merge(capture(*m, a, other)), Error);
  std::filesystem::remove(path);
}

using test::error_of;

TEST(Capture, Errors) {
  auto m = tiny();
  auto prompts = encoded(*m);  // prompts 0 and 1 are longer than prompt 2
  const int64_t len2 = prompts[2].ids.size();
  std::string msg = error_of([&] { capture(*m, prompts, options(CapturePositions::explicit_indices({-(len2 + 1)}), 4)); });
  EXPECT_NE(msg.find("prompt 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(len2) + " tokens"), std::string::npos) << msg;
  CaptureOptions o = options(CapturePositions::explicit_indices({-1}), 4);
  o.keep_examples = false;
  o.sites = {SiteKind::kAttnZ};
  EXPECT_NE(error_of([&] { capture(*m, prompts, o); }).find("attn.hook_z"), std::string::npos);
  o.sites = {SiteKind::kResidPre};
  o.layers = {m->config().n_layers};
  EXPECT_NE(error_of([&] { capture(*m, prompts, o); }).find("out of range"), std::string::npos);
  o.layers = {};
  o.batch_size = 0;
  EXPECT_THROW(capture(*m, prompts, o), Error);
  o.batch_size = 2;
  EXPECT_THROW(capture(*m, {}, o), Error);
  Activations none = capture(*m, prompts, o);
  EXPECT_NE(error_of([&] { none.examples(SiteKind::kResidPre, 0); }).find("per-example"), std::string::npos);
}

TEST(Capture, ParseLayersAndPositions) {
  EXPECT_EQ(parse_layer_list("all", 3), std::vector<int>({0, 1, 2}));
  EXPECT_EQ(parse_layer_list("0-2", 30), std::vector<int>({0, 1, 2}));
  EXPECT_EQ(parse_layer_list("7,3,5,3", 30), std::vector<int>({3, 5, 7}));
  EXPECT_EQ(parse_layer_list("0-1,10", 30), std::vector<int>({0, 1, 10}));
  std::string msg = error_of([] { parse_layer_list("0-30", 30); });
  EXPECT_NE(msg.find("30 layers"), std::string::npos) << msg;
  EXPECT_THROW(parse_layer_list("a", 30), Error);
  EXPECT_THROW(parse_layer_list("5-3", 30), Error);
  EXPECT_THROW(parse_layer_list("", 30), Error);

  EXPECT_EQ(CapturePositions::parse("-5,-4,-1").select.indices, std::vector<int64_t>({-5, -4, -1}));
  EXPECT_EQ(CapturePositions::parse("-5..-1").select.indices, std::vector<int64_t>({-5, -4, -3, -2, -1}));
  EXPECT_EQ(CapturePositions::parse("-5..-1").reduce, CapturePositions::Reduce::kEach);
  EXPECT_EQ(CapturePositions::parse("prompt-mean"), CapturePositions::prompt_mean());
  EXPECT_EQ(CapturePositions::parse("after-instruction-mean").to_string(), "after-instruction-mean");
  // The intervention vocabulary (PositionSelector::parse) reads the same; the old names are aliases.
  EXPECT_EQ(CapturePositions::parse("prompt"), CapturePositions::prompt_mean());
  EXPECT_EQ(CapturePositions::parse("all"), CapturePositions::prompt_mean());
  EXPECT_EQ(CapturePositions::parse("after-instruction"), CapturePositions::after_instruction_mean());
  EXPECT_EQ(CapturePositions::prompt_mean().to_string(), "prompt-mean");
  EXPECT_EQ(CapturePositions::parse("-2,-1").select, PositionSelector::parse("-2,-1"));
  EXPECT_EQ(PositionSelector::parse("-3..-1").indices, std::vector<int64_t>({-3, -2, -1}));
  std::string gen = error_of([] { CapturePositions::parse("generated"); });
  EXPECT_NE(gen.find("selects no token"), std::string::npos) << gen;
  EXPECT_THROW(CapturePositions::parse("-1,x"), Error);
  EXPECT_THROW(CapturePositions::parse("-1,-1"), Error);
  EXPECT_THROW(CapturePositions::parse(""), Error);
}

// The one position rule (PositionSelector::selects / prompt_positions): prompt length 6, the
// post-instruction tail from position 4 on, one generated token at position 6.
TEST(Positions, OneRule) {
  using PS = PositionSelector;
  EXPECT_EQ(PS::prompt().prompt_positions(6, 4), std::vector<int64_t>({0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(PS::all().prompt_positions(6, 4), PS::prompt().prompt_positions(6, 4));
  EXPECT_EQ(PS::after_instruction().prompt_positions(6, 4), std::vector<int64_t>({4, 5}));
  EXPECT_TRUE(PS::generated().prompt_positions(6, 4).empty());
  EXPECT_EQ(PS::explicit_indices({-1, 0, -6, 9, -7}).prompt_positions(6, 4), std::vector<int64_t>({5, 0, 0}));
  EXPECT_TRUE(PS::after_instruction().selects(6, 6, 4));  // generated tokens follow the instruction
  EXPECT_TRUE(PS::generated().selects(6, 6, 4));
  EXPECT_FALSE(PS::prompt().selects(6, 6, 4));
  EXPECT_FALSE(PS::explicit_indices({-1}).selects(6, 6, 4));  // −1 is the prompt's last token
  EXPECT_TRUE(PS::explicit_indices({-1}).selects(5, 6, 4));
}

}  // namespace
}  // namespace steer
