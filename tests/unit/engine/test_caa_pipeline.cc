// CAA and bias pipeline pieces without a model: the best-layer rule on synthetic sweeps with a
// known answer, and the StereoSet item builder (domains kept apart, seeded, balanced letters).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "steer/bias.h"
#include "steer/caa.h"
#include "steer/error.h"
#include "tiny_models.h"

namespace steer {
namespace {

TEST(CaaBestLayer, PicksTheLargestMonotoneEffect) {
  // Layer 3 has the largest swing but is not monotone (p(0) above p(+1)); layer 2 is the
  // largest monotone one.
  std::vector<int> layers = {0, 1, 2, 3, 4};
  std::vector<double> pm = {0.50, 0.45, 0.30, 0.10, 0.49};
  std::vector<double> pz = {0.50, 0.50, 0.50, 0.80, 0.50};
  std::vector<double> pp = {0.51, 0.56, 0.75, 0.70, 0.52};
  BestLayer b = pick_best_layer(layers, pm, pz, pp);
  EXPECT_EQ(b.layer, 2);
  EXPECT_TRUE(b.monotone);
  EXPECT_NEAR(b.effect, 0.45, 1e-12);
}

TEST(CaaBestLayer, FallsBackToTheLargestEffectWhenNothingIsMonotone) {
  std::vector<int> layers = {5, 6, 7};
  std::vector<double> pm = {0.60, 0.40, 0.55}, pz = {0.40, 0.70, 0.30}, pp = {0.65, 0.60, 0.50};
  BestLayer b = pick_best_layer(layers, pm, pz, pp);
  EXPECT_EQ(b.layer, 6);  // effects 0.05, 0.20, −0.05
  EXPECT_FALSE(b.monotone);
  // A NaN layer is skipped; all NaN is an error, as are unequal lengths.
  EXPECT_EQ(pick_best_layer({1, 2}, {NAN, 0.2}, {0.5, 0.5}, {0.9, 0.8}).layer, 2);
  EXPECT_THROW(pick_best_layer({1}, {NAN}, {0.5}, {0.9}), Error);
  EXPECT_THROW(pick_best_layer({1, 2}, {0.1}, {0.5, 0.5}, {0.9, 0.8}), Error);
}

std::vector<StereoItem> synthetic_items() {
  std::vector<StereoItem> v;
  for (int i = 0; i < 60; ++i) {
    StereoItem s;
    s.id = "item" + std::to_string(i);
    s.bias_type = i % 3 == 0 ? "race" : "gender";
    s.context = "The BLANK person number " + std::to_string(i) + ".";
    s.stereotype = "stereo " + std::to_string(i);
    s.anti_stereotype = "anti " + std::to_string(i);
    s.unrelated = "unrelated " + std::to_string(i);
    v.push_back(s);
  }
  return v;
}

TEST(BiasItems, KeepDomainsApartAreSeededAndBalanced) {
  const std::vector<StereoItem> all = synthetic_items();
  std::vector<BiasItem> gender = build_bias_items(all, "gender", 42);
  ASSERT_EQ(gender.size(), 40u);
  int stereo_at_a = 0, triple_at[3] = {0, 0, 0};
  for (const BiasItem& b : gender) {
    EXPECT_EQ(b.domain, "gender");
    const int i = std::stoi(b.id.substr(4));
    EXPECT_NE(i % 3, 0) << "a race item in the gender set";
    // The pair offers exactly this item's stereotype and anti-stereotype, under the right letters.
    const std::string& q = b.pair.question;
    EXPECT_NE(q.find(b.pair.answer_matching + " stereo " + std::to_string(i)), std::string::npos) << q;
    EXPECT_NE(q.find(b.pair.answer_not_matching + " anti " + std::to_string(i)), std::string::npos) << q;
    EXPECT_EQ(q.find("unrelated"), std::string::npos);
    const std::string& t = b.triple.question;
    EXPECT_NE(t.find(b.triple.answer_matching + " stereo " + std::to_string(i)), std::string::npos) << t;
    EXPECT_NE(t.find(b.triple.answer_not_matching + " anti " + std::to_string(i)), std::string::npos) << t;
    EXPECT_NE(t.find(std::string("(") + b.unrelated_letter + ") unrelated " + std::to_string(i)), std::string::npos) << t;
    EXPECT_NE(q.find("___"), std::string::npos);
    stereo_at_a += b.pair.answer_matching == "(A)";
    triple_at[b.triple.answer_matching[1] - 'A'] += 1;
  }
  EXPECT_EQ(stereo_at_a, 20);
  for (int c : triple_at) EXPECT_NEAR(c, 40 / 3.0, 1.0);
  // Same seed, same letters; another seed, another order.
  std::vector<BiasItem> again = build_bias_items(all, "gender", 42), other = build_bias_items(all, "gender", 7);
  int differ = 0;
  for (size_t k = 0; k < gender.size(); ++k) {
    EXPECT_EQ(again[k].pair.question, gender[k].pair.question);
    EXPECT_EQ(again[k].triple.question, gender[k].triple.question);
    differ += other[k].triple.question != gender[k].triple.question;
  }
  EXPECT_GT(differ, 10);
  EXPECT_EQ(build_bias_items(all, "race", 42).size(), 20u);
  EXPECT_THROW(build_bias_items(all, "religion", 42), Error);
}

// The bias pipeline end to end on the tiny model: per-domain scores with intervals, the output
// contract, and the same model as the compare model gives cosine 1 with itself at every layer.
TEST(BiasRun, EndToEndOnTheTinyModelWithACompareModel) {
  auto m = test::tiny_chat();
  BiasOptions o;
  const std::vector<StereoItem> all = synthetic_items();
  o.items["gender"] = all;
  o.items["race"] = all;
  o.max_train = 8;
  o.max_test = 4;
  o.multipliers = {-1, 0, 1};
  o.refusal_multipliers = {0};
  o.n_refusal_prompts = 2;
  o.compare_model = m;
  o.progress = false;
  BiasRun run = compute_bias_run(*m, o);
  ASSERT_EQ(run.domains.size(), 2u);
  for (const BiasDomain& d : run.domains) {
    EXPECT_EQ(d.n_test, 4u);
    ASSERT_EQ(d.p_stereotype.size(), 3u);
    for (const Interval& p : d.p_stereotype) {
      EXPECT_LE(p.lo, p.mean);
      EXPECT_LE(p.mean, p.hi);
    }
    for (double c : run.cross_model_cosine.at(d.name)) EXPECT_NEAR(c, 1.0, 1e-6) << d.name;
  }
  ASSERT_EQ(run.cosine_by_layer.size(), 1u);
  const auto& [pair, c] = *run.cosine_by_layer.begin();
  EXPECT_EQ(pair, "gender/race");
  for (size_t l = 0; l < c.size(); ++l) EXPECT_NEAR(run.compare_cosine_by_layer.at(pair)[l], c[l], 1e-6);
  const std::string dir = (std::filesystem::temp_directory_path() / "steer-bias-run-test").string();
  std::filesystem::remove_all(dir);
  write_bias_run(run, dir);
  nlohmann::json s = nlohmann::json::parse(std::ifstream(dir + "/summary.json"));
  for (const char* d : {"gender", "race"}) {
    EXPECT_TRUE(s["domains"][d].contains("best_layer")) << d;
    EXPECT_TRUE(s["domains"][d].contains("p_stereotype")) << d;
    EXPECT_TRUE(std::filesystem::exists(dir + "/" + d + "/vectors.safetensors")) << d;
  }
  EXPECT_TRUE(s["cosine"].contains("gender/race"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/compare_model_cosine.csv"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace steer
