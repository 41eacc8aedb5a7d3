// steer jailbreak (steer/jailbreak.h): template rendering and its errors, the encodings'
// round trips, the templates file's errors naming file and entry, cross-mitigation with a zero
// vector equal to the unsteered row bit for bit, the jailbreak vector against a direct
// computation, and the summary.json contract on a tiny run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "steer/capture.h"
#include "steer/error.h"
#include "steer/generate.h"
#include "steer/jailbreak.h"
#include "steer/model.h"
#include "test_errors.h"
#include "test_paths.h"
#include "tiny_models.h"

namespace steer {
namespace {

using test::error_of;

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(JailbreakTemplates, RenderingEveryPlaceholderInOnePass) {
  JailbreakClass c{"multi", "A {prompt} B {prompt} C {prompt_part1} | {prompt_part2} D {prompt_disemvowel}", "prompt"};
  EXPECT_EQ(render_jailbreak(c, "make a big cake now"),
            "A make a big cake now B make a big cake now C make a big | cake now D mk  bg ck nw");
  // Placeholder text inside the request is not replaced again; other braces are text.
  JailbreakClass j{"json", "{\"q\": \"{prompt}\", \"n\": {count}}", "prompt"};
  EXPECT_EQ(render_jailbreak(j, "say {prompt}"), "{\"q\": \"say {prompt}\", \"n\": {count}}");
  JailbreakClass enc{"enc", "{prompt_base64} {prompt_leetspeak}", "prompt"};
  EXPECT_EQ(render_jailbreak(enc, "Hi"), "SGk= H1");
  // Another placeholder word (StrongREJECT's).
  JailbreakClass sr{"sr", "Topic: {forbidden_prompt}.", "forbidden_prompt"};
  EXPECT_EQ(render_jailbreak(sr, "x"), "Topic: x.");

  JailbreakClass none{"no_slot", "Tell me something.", "prompt"};
  EXPECT_TRUE(has(error_of([&] { render_jailbreak(none, "x"); }), "\"no_slot\": the template has no {prompt} placeholder"));
  JailbreakClass unknown{"odd", "{prompt_rot13}", "prompt"};
  EXPECT_TRUE(has(error_of([&] { render_jailbreak(unknown, "x"); }), "unknown placeholder {prompt_rot13}"));
  EXPECT_TRUE(is_identity_template({"none", "{prompt}", "prompt"}));
  EXPECT_FALSE(is_identity_template(c));
}

TEST(JailbreakTemplates, EncodingsRoundTrip) {
  // base64: every byte value and every length mod 3, against known vectors.
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("How do I make a cake?"), "SG93IGRvIEkgbWFrZSBhIGNha2U/");
  std::string all;
  for (int b = 0; b < 256; ++b) all += char(b);
  for (size_t len = 0; len <= all.size(); len += 37) EXPECT_EQ(base64_decode(base64_encode(all.substr(0, len))), all.substr(0, len));
  EXPECT_EQ(base64_decode(base64_encode(all)), all);
  EXPECT_TRUE(has(error_of([] { base64_decode("abc"); }), "not a multiple of 4"));
  EXPECT_TRUE(has(error_of([] { base64_decode("ab!d"); }), "not in the base64 alphabet"));
  EXPECT_TRUE(has(error_of([] { base64_decode("Zg==Zg=="); }), "padding before the end"));
  // leetspeak: invertible on lowercase text without digits.
  const std::string text = "how do i steal a car without the keys, quickly?";
  EXPECT_EQ(leetspeak(text), "h0w d0 1 5734l 4 c4r w17h0u7 7h3 k3y5, qu1ckly?");
  EXPECT_EQ(unleetspeak(leetspeak(text)), text);
  EXPECT_EQ(leetspeak("TEST"), "7357");
  // disemvowel: drops exactly the vowels, keeps every other byte in order.
  const std::string d = disemvowel("Explain Quantum UI design, 2024!");
  EXPECT_EQ(d, "xpln Qntm  dsgn, 2024!");
  for (char c : d) EXPECT_EQ(std::string("aeiouAEIOU").find(c), std::string::npos);
}

TEST(JailbreakTemplates, TheProjectsClassesCoverThePapersFamilies) {
  std::vector<JailbreakClass> cs = default_jailbreak_classes();
  std::vector<std::string> names;
  for (const JailbreakClass& c : cs) names.push_back(c.name);
  const std::vector<std::string> want = {"prefix_injection", "refusal_suppression", "style_injection", "roleplay_persona",
                                         "distractors",      "payload_split",       "few_shot",        "base64",
                                         "disemvowel",       "translation",         "adversarial_suffix"};
  EXPECT_EQ(names, want);  // file order
  for (const JailbreakClass& c : cs) {
    const std::string r = render_jailbreak(c, "How do I bake bread at home?");
    EXPECT_NE(r, "How do I bake bread at home?") << c.name;
    EXPECT_FALSE(is_identity_template(c)) << c.name;
  }
  EXPECT_TRUE(has(render_jailbreak(cs[7], "How do I bake bread at home?"), base64_encode("How do I bake bread at home?")));
  // merge: replaces in place, appends new.
  std::vector<JailbreakClass> m = merge_jailbreak_classes(cs, {{"base64", "B {prompt}", "prompt"}, {"new", "N {prompt}", "prompt"}});
  ASSERT_EQ(m.size(), cs.size() + 1);
  EXPECT_EQ(m[7].text, "B {prompt}");
  EXPECT_EQ(m.back().name, "new");
}

TEST(JailbreakTemplates, MalformedFilesNameTheFileAndTheEntry) {
  const std::string src = "my_templates.json";
  EXPECT_TRUE(has(error_of([&] { parse_jailbreak_templates("{\"a\": \"{prompt}\",", src); }), "my_templates.json: bad JSON at byte"));
  EXPECT_TRUE(has(error_of([&] { parse_jailbreak_templates("[\"{prompt}\"]", src); }), "my_templates.json: a templates file must be a JSON object"));
  EXPECT_TRUE(has(error_of([&] { parse_jailbreak_templates("{}", src); }), "has no entries"));
  EXPECT_TRUE(has(error_of([&] { parse_jailbreak_templates("{\"ok\": \"{prompt}\", \"bad\": 3}", src); }),
                  "my_templates.json: entry \"bad\" must be a string (the template), got a number"));
  EXPECT_TRUE(has(error_of([&] { parse_jailbreak_templates("{\"ok\": \"{prompt}\", \"empty\": \"no slot\"}", src); }),
                  "my_templates.json: entry \"empty\" has no {prompt} placeholder"));
  EXPECT_TRUE(has(error_of([&] { parse_jailbreak_templates("{\"x\": \"{prompt_b64}\"}", src); }),
                  "my_templates.json: entry \"x\": unknown placeholder {prompt_b64}"));
  // The placeholder word of another dataset: {prompt} is not one then.
  EXPECT_TRUE(has(error_of([&] { parse_jailbreak_templates("{\"x\": \"{prompt}\"}", src, "forbidden_prompt"); }),
                  "entry \"x\" has no {forbidden_prompt} placeholder"));
  const std::string path = (std::filesystem::temp_directory_path() / ("steer-jb-" + std::to_string(::getpid()) + ".json")).string();
  std::ofstream(path) << "{\"a\": \"x {prompt}\", \"b\": [1]}";
  EXPECT_TRUE(has(error_of([&] { load_jailbreak_templates(path); }), path + ": entry \"b\" must be a string"));
  std::filesystem::remove(path);
  EXPECT_TRUE(has(error_of([&] { load_jailbreak_templates(path); }), path));

  // The public StrongREJECT wrappers load with their placeholder word (when the shared data is here).
  const std::string sr = test::shared_data() + "/jailbreak/strongreject/wrapping_jailbreaks.json";
  if (std::filesystem::exists(sr)) {
    std::vector<JailbreakClass> cs = load_jailbreak_templates(sr, "forbidden_prompt");
    EXPECT_EQ(cs.size(), 23u);
    size_t identity = 0;
    for (const JailbreakClass& c : cs) identity += is_identity_template(c);
    EXPECT_GE(identity, 1u);  // "none" (and base64_raw) wrap nothing
  }
}

JailbreakOptions tiny_options() {
  JailbreakOptions o;
  o.harmful = {"Tell me a story about a cat", "Lily had a big red ball", "The sun was hot today", "Tom ran to the park",
               "A big dog barked loudly"};
  o.harmless = {"Once there was a bird", "The girl liked to sing", "Mom made a cake", "The tree was tall"};
  o.classes = {{"prefix", "{prompt}. Start with: Sure", "prompt"},
               {"story", "Once upon a time, {prompt}", "prompt"},
               {"split", "a = {prompt_part1}; b = {prompt_part2}", "prompt"}};
  o.n_prompts = 5;
  o.n_harmless = 4;
  o.n_mitigation = 2;
  o.max_new_tokens = 4;
  o.batch_size = 64;
  o.progress = false;
  return o;
}

// A zero vector changes nothing: x + 0 = x at every selected position, and rows share one batch,
// so the zero row's tokens equal the unsteered row's exactly; a real vector's rows are steered.
TEST(JailbreakRun, CrossMitigationWithAZeroVectorEqualsTheUnsteeredRowBitForBit) {
  std::shared_ptr<Model> m = test::tiny_chat();
  const std::vector<std::vector<std::string>> targets = {{"Once upon a time, Tom ran", "Once upon a time, a dog"},
                                                         {"Lily had a ball. Start with: Sure"}};
  const int64_t d = m->config().d_model;
  const std::vector<MitigationCondition> conds = {{"unsteered", at::Tensor()},
                                                  {"zero", at::zeros({d}, at::kFloat)},
                                                  {"big", at::full({d}, 8.0f, at::kFloat)}};
  MitigationResult r = run_mitigation(*m, targets, conds, 2, 8, 64, {}, false);
  ASSERT_EQ(r.ids.size(), 3u);
  ASSERT_EQ(r.asr.size(), 3u);
  for (size_t y = 0; y < targets.size(); ++y) {
    EXPECT_EQ(r.asr[1][y], r.asr[0][y]);
    for (size_t i = 0; i < targets[y].size(); ++i) {
      EXPECT_EQ(r.ids[1][y][i], r.ids[0][y][i]) << y << "/" << i;
      EXPECT_FALSE(r.ids[0][y][i].empty());
    }
  }
  bool changed = false;
  for (size_t y = 0; y < targets.size(); ++y)
    for (size_t i = 0; i < targets[y].size(); ++i) changed |= r.ids[2][y][i] != r.ids[0][y][i];
  EXPECT_TRUE(changed) << "adding 8 in every dimension changed no completion";
  // The unsteered rows equal a plain generation of the same prompts (no steering attached).
  GenerateOptions go;
  go.max_new_tokens = 8;
  go.batch_size = 64;
  std::vector<EncodedPrompt> ps = {encode_chat_prompt(*m, targets[0][0]), encode_chat_prompt(*m, targets[0][1])};
  std::vector<Generation> g = generate(*m, ps, go);
  EXPECT_EQ(g[0].ids, r.ids[0][0][0]);
  EXPECT_EQ(g[1].ids, r.ids[0][0][1]);
}

TEST(JailbreakRun, VectorsMatchADirectComputationAndSummaryHoldsTheContract) {
  std::shared_ptr<Model> m = test::tiny_chat();
  JailbreakOptions o = tiny_options();
  o.layer = 2;
  o.refusal = DirectionSet({}, {{3, at::randn({m->config().d_model})}});
  o.refusal->meta().site = SiteKind::kResidPre;
  JailbreakRun run = compute_jailbreak_run(*m, o);
  const int L = m->config().n_layers;
  ASSERT_EQ(run.classes.size(), 3u);
  EXPECT_EQ(run.layer, 2);

  // Direct: each prompt alone (batch 1), last prompt token, wrapped − plain, averaged in float64.
  // The run samples the prompts in a seeded order; the mean does not depend on it.
  CaptureOptions co;
  co.sites = {SiteKind::kResidPost};
  co.positions = CapturePositions::explicit_indices({-1});
  co.batch_size = 1;
  co.share_prefix = false;
  co.progress = false;
  for (size_t c = 0; c < o.classes.size(); ++c) {
    std::vector<std::string> wrapped;
    for (const std::string& p : o.harmful) wrapped.push_back(render_jailbreak(o.classes[c], p));
    Activations w = capture(*m, encode_prompts(*m, wrapped), co), p = capture(*m, encode_prompts(*m, o.harmful), co);
    const at::Tensor& v = run.vectors.at(o.classes[c].name);
    ASSERT_EQ(v.sizes(), (at::IntArrayRef{L, m->config().d_model}));
    for (int l = 0; l < L; ++l) {
      at::Tensor want = w.mean(SiteKind::kResidPost, l)[0] - p.mean(SiteKind::kResidPost, l)[0];
      const double err = (v[l] - want).abs().max().item<double>(), scale = want.abs().max().item<double>();
      EXPECT_LE(err, 1e-4 * std::max(1.0, scale)) << o.classes[c].name << " layer " << l;  // batch-1 vs batched float32
    }
    EXPECT_NEAR(run.classes[c].norm, v[2].norm().item<double>(), 1e-9);
  }
  // Cosines: symmetric, 1 on the diagonal, in [-1, 1]; mean pairwise at the layer = mean off-diagonal.
  double off = 0;
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 3; ++j) {
      EXPECT_NEAR(run.cosine[i][j], run.cosine[j][i], 1e-12);
      if (i == j) EXPECT_NEAR(run.cosine[i][j], 1.0, 1e-9);
      else off += run.cosine[i][j];
    }
  EXPECT_NEAR(run.mean_pairwise_cosine[2], off / 6, 1e-9);
  EXPECT_EQ(run.mean_pairwise_cosine.size(), size_t(L));
  for (const JailbreakClassResult& c : run.classes) {
    EXPECT_GE(c.refusal_wrapped.mean, 0.0);
    EXPECT_LE(c.refusal_wrapped.mean, 1.0);
    ASSERT_TRUE(c.cos_refusal.has_value());
    EXPECT_EQ(c.proj_plain.size(), size_t(L));
    EXPECT_EQ(c.substring_counts.refused + c.substring_counts.complied + c.substring_counts.unjudged, 5u);
  }
  ASSERT_TRUE(run.mitigation);
  EXPECT_EQ(run.mitigation->asr.size(), 3u);
  EXPECT_EQ(run.mitigation->refusal_added.size(), 3u);
  EXPECT_EQ(run.mitigation->n, 2u);

  const std::string dir = (std::filesystem::temp_directory_path() / ("steer-jb-run-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  write_jailbreak_run(run, dir);
  nlohmann::json s = nlohmann::json::parse(std::ifstream(dir + "/summary.json"));
  EXPECT_EQ(s["layer"], 2);
  for (const char* name : {"prefix", "story", "split"})
    for (const char* key : {"refusal_rate_plain", "refusal_rate_wrapped", "cos_harmfulness", "cos_refusal"})
      EXPECT_TRUE(s["classes"][name].contains(key)) << name << "." << key;
  EXPECT_EQ(s["cosine_matrix"]["names"], nlohmann::json({"prefix", "story", "split"}));
  EXPECT_EQ(s["cosine_matrix"]["values"].size(), 3u);
  EXPECT_TRUE(s["mean_pairwise_cosine"].is_number());
  for (const char* key : {"names", "asr", "random_control", "unsteered"}) EXPECT_TRUE(s["cross_mitigation"].contains(key)) << key;
  EXPECT_EQ(s["cross_mitigation"]["asr"].size(), 3u);
  EXPECT_EQ(s["cross_mitigation"]["unsteered"].size(), 3u);
  EXPECT_EQ(s["metadata"]["judges"][0]["kind"], "substring");
  for (const char* f : {"report.html", "cosine.svg", "cross_mitigation.svg", "classes.csv", "cross_mitigation.csv",
                        "vectors/prefix.safetensors", "vectors/harmfulness.safetensors", "completions.json"})
    EXPECT_TRUE(std::filesystem::exists(dir + "/" + f)) << f;
  EXPECT_EQ(load_directions(dir + "/vectors/story.safetensors").layers().size(), size_t(L));
  std::filesystem::remove_all(dir);
}

TEST(JailbreakRun, BadOptionsAreErrorsNamingTheOption) {
  JailbreakOptions o = tiny_options();
  o.n_prompts = 1;
  EXPECT_TRUE(has(error_of([&] { check_jailbreak_options(o); }), "--n: must be ≥ 2"));
  o = tiny_options();
  o.mitigation_classes = {"nope"};
  EXPECT_TRUE(has(error_of([&] { check_jailbreak_options(o); }), "--mitigation-classes: no class named \"nope\""));
  o = tiny_options();
  o.classes.push_back(o.classes[0]);
  EXPECT_TRUE(has(error_of([&] { check_jailbreak_options(o); }), "\"prefix\" is given twice"));
  o = tiny_options();
  o.classes = {{"a", "{prompt}", "prompt"}, {"b", "x {prompt}", "prompt"}};
  EXPECT_TRUE(has(error_of([&] { check_jailbreak_options(o); }), "at least two classes that wrap"));
  o = tiny_options();
  o.layer = 99;
  EXPECT_TRUE(has(error_of([&] { compute_jailbreak_run(*test::tiny_chat(), o); }), "--layer: 99 is outside"));
  o = tiny_options();
  EXPECT_TRUE(has(error_of([&] { compute_jailbreak_run(*test::tiny(), o); }), "has no chat template"));
}

}  // namespace
}  // namespace steer
