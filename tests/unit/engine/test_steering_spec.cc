// Steering specs (steer/steering_spec.h): FILE[@LAYERS][:NUMBER] parsed into its parts, with
// errors that name the option; build_steering and pick_direction on real vector files; and the
// one layer-list parser (steer/sites.h) in both its modes.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "steer/config.h"
#include "steer/directions.h"
#include "steer/steering_spec.h"
#include "test_errors.h"

namespace steer {
namespace {

namespace fs = std::filesystem;
using test::error_of;
using Kind = Intervention::Kind;

// The message and its hint, as the CLI prints them: "message (hint: …)".
std::string error_and_hint(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return std::string(e.what()) + " (hint: " + e.hint() + ")";
  }
  return "";
}

std::string tmp(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("steer-spec-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

// A file with vectors at `layers` (d_model 4), vector at layer l = (l+1)·e_(l mod 4).
std::string vector_file(const std::string& name, const std::vector<int>& layers) {
  DirectionMeta meta;
  meta.d_model = 4;
  meta.n_layers = 8;
  meta.site = SiteKind::kResidPre;
  std::map<int, at::Tensor> v;
  for (int l : layers) {
    at::Tensor t = at::zeros({4});
    t[l % 4] = float(l + 1);
    v[l] = t;
  }
  std::string path = tmp(name);
  save_directions(DirectionSet(meta, v), path);
  return path;
}

TEST(SteeringSpec, ParsesFileLayersAndNumber) {
  SteeringSpec s = parse_steering_spec(Kind::kAdd, "v.gguf@8-10:-1.5");
  EXPECT_EQ(s.kind, Kind::kAdd);
  EXPECT_EQ(s.file, "v.gguf");
  EXPECT_EQ(s.layers, std::vector<int>({8, 9, 10}));
  EXPECT_EQ(s.layers_text, "8-10");
  ASSERT_TRUE(s.number.has_value());
  EXPECT_FLOAT_EQ(*s.number, -1.5f);

  s = parse_steering_spec(Kind::kAdd, "v.safetensors");
  EXPECT_EQ(s.file, "v.safetensors");
  EXPECT_TRUE(s.layers.empty());
  EXPECT_FALSE(s.number.has_value());

  s = parse_steering_spec(Kind::kAdd, "v.safetensors:4");  // coefficient without layers
  EXPECT_EQ(s.file, "v.safetensors");
  EXPECT_TRUE(s.layers.empty());
  EXPECT_FLOAT_EQ(s.number.value(), 4.f);

  s = parse_steering_spec(Kind::kAblate, "dir.safetensors@3,5");
  EXPECT_EQ(s.layers, std::vector<int>({3, 5}));
  EXPECT_FALSE(s.number.has_value());

  s = parse_steering_spec(Kind::kClamp, "dir.safetensors@12:0");
  EXPECT_EQ(s.layers, std::vector<int>({12}));
  EXPECT_FLOAT_EQ(s.number.value(), 0.f);
}

TEST(SteeringSpec, PathsMayHoldAtAndColon) {
  // '@' separates only when a layer list follows it; ':' only when a number follows.
  SteeringSpec s = parse_steering_spec(Kind::kAdd, "runs/me@host:v2/v.gguf@4:2");
  EXPECT_EQ(s.file, "runs/me@host:v2/v.gguf");
  EXPECT_EQ(s.layers, std::vector<int>({4}));
  EXPECT_FLOAT_EQ(s.number.value(), 2.f);
  s = parse_steering_spec(Kind::kAdd, "a@b/v.gguf");
  EXPECT_EQ(s.file, "a@b/v.gguf");
  EXPECT_TRUE(s.layers.empty());
}

TEST(SteeringSpec, MalformedSpecsNameTheOption) {
  std::string m = error_and_hint([] { parse_steering_spec(Kind::kAdd, "v.gguf@3:abc"); });
  EXPECT_NE(m.find("--add 'v.gguf@3:abc'"), std::string::npos) << m;
  EXPECT_NE(m.find("'abc' is not a number"), std::string::npos) << m;
  EXPECT_NE(m.find("VEC[@LAYERS][:COEF]"), std::string::npos) << m;

  m = error_of([] { parse_steering_spec(Kind::kAdd, "v.gguf@3:inf"); });
  EXPECT_NE(m.find("is not a number"), std::string::npos) << m;

  m = error_of([] { parse_steering_spec(Kind::kAblate, "r.safetensors@12:2"); });
  EXPECT_NE(m.find("--ablate 'r.safetensors@12:2': an ablation takes no coefficient"), std::string::npos) << m;

  m = error_of([] { parse_steering_spec(Kind::kClamp, "r.safetensors@12"); });
  EXPECT_NE(m.find("--clamp 'r.safetensors@12': needs a layer and a value"), std::string::npos) << m;
  m = error_of([] { parse_steering_spec(Kind::kClamp, "r.safetensors:3"); });
  EXPECT_NE(m.find("needs a layer and a value"), std::string::npos) << m;
  m = error_of([] { parse_steering_spec(Kind::kClamp, "r.safetensors@3-4:0"); });
  EXPECT_NE(m.find("clamp one layer at a time"), std::string::npos) << m;

  m = error_and_hint([] { parse_steering_spec(Kind::kAdd, "v.gguf@5-3:1"); });
  EXPECT_NE(m.find("--add: bad layer list '5-3'"), std::string::npos) << m;
  EXPECT_NE(m.find("layers are 0-based"), std::string::npos) << m;

  // A caller's own option name (the HTTP server names its JSON field).
  m = error_of([] { parse_steering_spec(Kind::kAblate, "r@1:1", "steering.ablate[0]"); });
  EXPECT_NE(m.find("steering.ablate[0] 'r@1:1'"), std::string::npos) << m;
}

TEST(SteeringSpec, BuildsTheInterventionsInOrder) {
  std::string one = vector_file("one.safetensors", {2});
  std::string many = vector_file("many.safetensors", {1, 2, 3});
  SteeringSpecs specs;
  specs.add = {many + "@1,3:2"};
  specs.ablate = {one};
  specs.clamp = {many + "@2:0.5"};
  specs.positions = "generated";
  Steering s = build_steering(specs, /*chat_prompts=*/true);
  ASSERT_EQ(s.interventions().size(), 3u);
  const Intervention& ablate = s.interventions()[0];
  EXPECT_EQ(ablate.kind, Kind::kAblate);
  EXPECT_EQ(ablate.label, "one.safetensors");
  EXPECT_EQ(ablate.basis.size(0), 1);
  const Intervention& add = s.interventions()[1];
  EXPECT_EQ(add.kind, Kind::kAdd);
  EXPECT_FLOAT_EQ(add.coef, 2.f);
  ASSERT_EQ(add.vectors.size(), 2u);
  EXPECT_TRUE(add.vectors.count(1) && add.vectors.count(3));
  EXPECT_EQ(add.positions.kind, PositionSelector::Kind::kGenerated);
  EXPECT_EQ(add.site, SiteKind::kResidPre);  // the file's site
  const Intervention& clamp = s.interventions()[2];
  EXPECT_EQ(clamp.kind, Kind::kClamp);
  EXPECT_FLOAT_EQ(clamp.value, 0.5f);
  EXPECT_EQ(clamp.layers, std::vector<int>({2}));

  // Default positions: after-instruction for chat prompts, all for raw text.
  SteeringSpecs plain;
  plain.add = {one};
  EXPECT_EQ(build_steering(plain, true).interventions()[0].positions.kind, PositionSelector::Kind::kAfterInstruction);
  EXPECT_EQ(build_steering(plain, false).interventions()[0].positions.kind, PositionSelector::Kind::kAll);
}

TEST(SteeringSpec, AmbiguousOrMissingLayersAreErrors) {
  std::string many = vector_file("many2.safetensors", {1, 2, 3});
  SteeringSpecs specs;
  specs.ablate = {many};
  std::string m = error_of([&] { build_steering(specs, true); });
  EXPECT_NE(m.find("holds vectors at layers 1,2,3"), std::string::npos) << m;
  specs.ablate = {many + "@7"};
  m = error_of([&] { build_steering(specs, true); });
  EXPECT_NE(m.find("no vector at layer 7 (it has layers 1,2,3)"), std::string::npos) << m;
}

TEST(SteeringSpec, PickDirection) {
  std::string one = vector_file("pick1.safetensors", {5});
  std::string many = vector_file("pick3.safetensors", {1, 2, 3});
  PickedDirection p = pick_direction(one, "--direction");
  EXPECT_EQ(p.layer, 5);
  EXPECT_EQ(p.file, one);
  EXPECT_FLOAT_EQ(p.vector[1].item<float>(), 6.f);
  p = pick_direction(many + "@2", "--direction");
  EXPECT_EQ(p.layer, 2);
  EXPECT_FLOAT_EQ(p.vector[2].item<float>(), 3.f);
  std::string m = error_of([&] { pick_direction(many, "--direction"); });
  EXPECT_NE(m.find("--direction"), std::string::npos) << m;
  EXPECT_NE(m.find("say which is the direction"), std::string::npos) << m;
  m = error_of([&] { pick_direction(many + "@1-2", "--direction"); });
  EXPECT_NE(m.find("name one layer"), std::string::npos) << m;
  m = error_of([&] { pick_direction(one + "@5:1", "--direction"); });
  EXPECT_NE(m.find("takes no coefficient"), std::string::npos) << m;
}

// Files checked against the model before the work (issue 16, class 6): an --ablate FILE@L
// the model lacks is an error even though a one-vector file serves any L; another width or
// layer count is an error; another architecture is a warning (the user may mean it).
TEST(SteeringSpec, CheckSteeringFitsTheModel) {
  ModelConfig c;
  c.arch = "llama";
  c.name = "tiny";
  c.n_layers = 8;
  c.d_model = 4;
  const std::string one = vector_file("fit1.safetensors", {5});
  SteeringSpecs specs;
  specs.ablate = {one + "@5"};
  EXPECT_TRUE(check_steering_fits(specs, c).empty());
  specs.ablate = {one + "@999"};
  std::string m = error_of([&] { check_steering_fits(specs, c); });
  EXPECT_NE(m.find("--ablate"), std::string::npos) << m;
  EXPECT_NE(m.find("layer 999 is out of range: the model has 8 layers"), std::string::npos) << m;
  specs.ablate.clear();
  specs.clamp = {one + "@8:0"};
  EXPECT_NE(error_of([&] { check_steering_fits(specs, c); }).find("layer 8 is out of range"), std::string::npos);
  specs.clamp.clear();

  ModelConfig wide = c;
  wide.d_model = 8;
  specs.add = {one + ":2"};
  EXPECT_NE(error_of([&] { check_steering_fits(specs, wide); }).find("d_model"), std::string::npos);
  ModelConfig deep = c;
  deep.n_layers = 30;
  EXPECT_NE(error_of([&] { check_steering_fits(specs, deep); }).find("8 layers"), std::string::npos);

  // Made for another architecture (a control vector's model_hint): applied, with a warning.
  DirectionMeta meta;
  meta.d_model = 4;
  meta.model = "qwen2";
  meta.model_arch = "qwen2";
  at::Tensor v = at::ones({4});
  const std::string other = tmp("other-arch.gguf");
  save_directions(DirectionSet(meta, {{3, v}}), other);
  specs.add = {other + "@3:1"};
  std::vector<std::string> w = check_steering_fits(specs, c);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("made for qwen2"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("this model is tiny (llama)"), std::string::npos) << w[0];
  c.arch = "qwen2";
  EXPECT_TRUE(check_steering_fits(specs, c).empty());
}

TEST(LayerList, BoundedAndUnbounded) {
  EXPECT_EQ(parse_layer_list("all", 3), std::vector<int>({0, 1, 2}));
  EXPECT_EQ(parse_layer_list("7,3,5,3", 30), std::vector<int>({3, 5, 7}));
  EXPECT_EQ(parse_layer_list("40-41", 0), std::vector<int>({40, 41}));  // no bound without a model
  std::string m = error_of([] { parse_layer_list("all", 0, "--add"); });
  EXPECT_NE(m.find("--add: bad layer list 'all'"), std::string::npos) << m;
  m = error_of([] { parse_layer_list("3,x", 0, "--ablate"); });
  EXPECT_NE(m.find("--ablate: bad layer list '3,x': 'x' is not a layer number"), std::string::npos) << m;
  m = error_of([] { parse_layer_list("0-30", 30); });
  EXPECT_NE(m.find("out of range (the model has 30 layers)"), std::string::npos) << m;
  EXPECT_EQ(m.find(": bad"), std::string::npos) << m;  // no option prefix when none is given
}

}  // namespace
}  // namespace steer
