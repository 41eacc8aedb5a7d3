// The PromptSet / ABSet overloads of extraction record the files' sha256 and pass the texts on
// unchanged (tiny model).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "steer/extract.h"
#include "steer/model.h"
#include "steer/prompts.h"
#include "test_paths.h"
#include "tiny_models.h"

namespace steer {
namespace {

using test::tiny;
using test::tiny_chat;

TEST(ExtractSets, MeanDiffAndPcaRecordDatasets) {
  auto m = tiny_chat();
  PromptSet pos = parse_prompts("The dog ran\nA big dog\nThe dog sat\n", "dogs.txt");
  PromptSet neg = parse_prompts("The cat slept\nA small cat\nThe cat ate\n", "cats.txt");
  ExtractOptions o;
  o.raw = true;
  o.progress = false;
  DirectionSet md = extract_mean_diff(*m, pos, neg, o);
  EXPECT_EQ(md.meta().datasets.at("dogs"), pos.sha256);
  EXPECT_EQ(md.meta().datasets.at("cats"), neg.sha256);
  EXPECT_EQ(pos.sha256.size(), 64u);
  EXPECT_EQ(md.meta().extra["n_positive"], 3);

  DirectionSet pca = extract_pca(*m, pos, neg, o);
  EXPECT_EQ(pca.meta().datasets.size(), 2u);
  EXPECT_TRUE(pca.meta().extra.contains("explained_variance"));

  // Same name twice (two files called dogs.txt): the role keeps them apart. (The same prompts
  // on both sides are refused: their vectors would be zero.)
  PromptSet other = parse_prompts("The dog slept\nA small dog\nThe dog ate\n", "dogs.txt");
  DirectionSet same = extract_mean_diff(*m, pos, other, o);
  EXPECT_EQ(same.meta().datasets.size(), 2u);
  EXPECT_EQ(same.meta().datasets.at("negative:dogs"), other.sha256);
}

TEST(ExtractSets, CaaFromAbSetAndRefusalCandidatesFromPromptSets) {
  auto m = tiny_chat();
  ABSet ab = parse_ab_set(R"J([
    {"question": "Do you like dogs?\n(A) yes\n(B) no", "answer_matching_behavior": "(A)", "answer_not_matching_behavior": "(B)"},
    {"question": "Is it cold?\n(A) no\n(B) yes", "answer_matching_behavior": " (B)", "answer_not_matching_behavior": "(A)"}
  ])J", "toy_ab.json");
  ExtractOptions o = caa_options();
  o.progress = false;
  DirectionSet caa = extract_caa(*m, ab, o);
  EXPECT_EQ(caa.meta().datasets.at("toy_ab"), ab.sha256);
  EXPECT_EQ(caa.meta().method, "caa");

  PromptSet pos = parse_prompts("The dog ran\nA big dog\n", "dogs.txt");
  PromptSet neg = parse_prompts("The cat slept\nA small cat\n", "cats.txt");
  RefusalCandidates c = refusal_candidates(*m, pos, neg, 8, false);
  EXPECT_EQ(c.meta.datasets.at("dogs"), pos.sha256);
  EXPECT_EQ(c.directions.size(1), m->config().n_layers);
}

}  // namespace
}  // namespace steer
