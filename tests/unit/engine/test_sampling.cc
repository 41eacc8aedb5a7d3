// steer::Sampler against CPython's `random` (fixture from tools/reference/
// make_sampling_fixture.py), and the refusal pipeline's train/val draws.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "steer/error.h"
#include "steer/prompts.h"
#include "test_paths.h"

namespace steer {
namespace {

using nlohmann::json;

json fixture() {
  std::ifstream in(test::test_data() + "/prompts/python_sampling.json");
  EXPECT_TRUE(in) << "missing tests/data/prompts/python_sampling.json";
  return json::parse(in);
}

std::vector<size_t> as_sizes(const json& list) {
  return list.get<std::vector<size_t>>();
}

TEST(Sampler, GetrandbitsMatchesPython) {
  const json fx = fixture();  // a named copy: a range-for over fixture()[...] iterates a destroyed temporary (ASan)
  for (const json& c : fx["getrandbits"]) {
    Sampler rng(c["seed"].get<uint64_t>());
    for (const json& v : c["getrandbits32"]) EXPECT_EQ(rng.getrandbits(32), v.get<uint32_t>());
    for (const json& v : c["getrandbits7"]) EXPECT_EQ(rng.getrandbits(7), v.get<uint32_t>());
  }
}

TEST(Sampler, RandbelowAbove32BitsMatchesPython) {
  const json c = fixture()["randbelow"];
  Sampler rng(c["seed"].get<uint64_t>());
  for (const json& v : c["values"]) {
    EXPECT_EQ(rng.randbelow(c["n"].get<uint64_t>()), v.get<uint64_t>());
  }
}

TEST(Sampler, SampleAndShuffleMatchPython) {
  const json fx = fixture();
  for (const json& c : fx["sample"]) {
    Sampler rng(c["seed"].get<uint64_t>());
    EXPECT_EQ(rng.sample_indices(c["n"].get<size_t>(), c["k"].get<size_t>()),
              as_sizes(c["indices"]))
        << "seed " << c["seed"] << " n " << c["n"] << " k " << c["k"];
  }
  for (const json& c : fx["shuffle"]) {
    Sampler rng(c["seed"].get<uint64_t>());
    EXPECT_EQ(rng.shuffle_indices(c["n"].get<size_t>()), as_sizes(c["order"]));
  }
}

TEST(Sampler, RefusalDirectionDrawsMatchTheirPipeline) {
  const json c = fixture()["refusal_direction"];
  Sampler rng(42);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(rng.sample_indices(c["sizes"][i].get<size_t>(), c["k"][i].get<size_t>()),
              as_sizes(c["indices"][i]))
        << "draw " << i;
  }
}

TEST(Sampler, RefusalSplitsOnTheSharedSplits) {
  const std::string dir = test::shared_data() + "/refusal_direction/dataset/splits/";
  PromptSet ht = load_prompts(dir + "harmful_train.json");
  PromptSet st = load_prompts(dir + "harmless_train.json");
  PromptSet hv = load_prompts(dir + "harmful_val.json");
  PromptSet sv = load_prompts(dir + "harmless_val.json");
  const json c = fixture()["refusal_direction"];
  // The fixture's pool sizes are the shared files' sizes.
  EXPECT_EQ(c["sizes"], json({ht.size(), st.size(), hv.size(), sv.size()}));

  RefusalSplits s = sample_refusal_splits(ht, st, hv, sv);
  ASSERT_EQ(s.harmful_train.size(), 128u);
  ASSERT_EQ(s.harmless_train.size(), 128u);
  ASSERT_EQ(s.harmful_val.size(), 32u);
  ASSERT_EQ(s.harmless_val.size(), 32u);
  const std::vector<const PromptSet*> pools = {&ht, &st, &hv, &sv};
  const std::vector<const std::vector<Prompt>*> got = {&s.harmful_train, &s.harmless_train,
                                                       &s.harmful_val, &s.harmless_val};
  for (size_t i = 0; i < 4; ++i) {
    std::vector<size_t> idx = as_sizes(c["indices"][i]);
    for (size_t j = 0; j < idx.size(); ++j) {
      ASSERT_EQ((*got[i])[j].instruction, pools[i]->items[idx[j]].instruction) << i << "," << j;
    }
  }
}

TEST(Sampler, DeterministicAndSeedDependent) {
  std::vector<int> items(300);
  for (int i = 0; i < 300; ++i) items[size_t(i)] = i;
  std::vector<int> a = sample(items, 50, 7), b = sample(items, 50, 7), c = sample(items, 50, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(std::set<int>(a.begin(), a.end()).size(), 50u);  // no repeats

  // k > n: everything, shuffled.
  std::vector<int> small = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  std::vector<int> all = sample(small, 99, 3);
  EXPECT_EQ(all.size(), small.size());
  EXPECT_EQ(std::set<int>(all.begin(), all.end()), std::set<int>(small.begin(), small.end()));
  EXPECT_NE(all, small);
  EXPECT_TRUE(sample(std::vector<int>{}, 5, 1).empty());

  // One Sampler advances: two draws differ from two fresh-seeded draws' second.
  Sampler rng(11);
  std::vector<size_t> first = rng.sample_indices(1000, 10);
  std::vector<size_t> second = rng.sample_indices(1000, 10);
  EXPECT_NE(first, second);
  EXPECT_EQ(Sampler(11).sample_indices(1000, 10), first);
}

TEST(Sampler, SplitFromOnePoolHasNoOverlap) {
  PromptSet harmful = default_harmful(), harmless = default_harmless();
  RefusalSplits s = split_refusal_prompts(harmful, harmless);
  ASSERT_EQ(s.harmful_train.size(), 128u);
  ASSERT_EQ(s.harmful_val.size(), 32u);
  ASSERT_EQ(s.harmless_train.size(), 128u);
  ASSERT_EQ(s.harmless_val.size(), 32u);
  std::set<std::string> train;
  for (const Prompt& p : s.harmful_train) train.insert(p.instruction);
  for (const Prompt& p : s.harmful_val) EXPECT_FALSE(train.count(p.instruction)) << p.instruction;
  EXPECT_EQ(train.size(), 128u);
  RefusalSplits again = split_refusal_prompts(harmful, harmless);
  EXPECT_EQ(again.harmless_val.front().instruction, s.harmless_val.front().instruction);
  RefusalSplits other = split_refusal_prompts(harmful, harmless, 128, 32, 43);
  EXPECT_NE(other.harmful_train.front().instruction + other.harmful_train.back().instruction,
            s.harmful_train.front().instruction + s.harmful_train.back().instruction);

  try {
    split_refusal_prompts(harmful, harmless, 200, 32);
    ADD_FAILURE() << "expected steer::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fewer than the 200 train + 32 val"), std::string::npos)
        << e.what();
  }
  PromptSet empty;
  empty.path = "empty.json";
  EXPECT_THROW(sample_refusal_splits(harmful, empty, harmful, harmless), Error);
}

}  // namespace
}  // namespace steer
