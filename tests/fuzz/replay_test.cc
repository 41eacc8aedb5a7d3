// Every fuzz target's seed corpus (tests/fuzz/corpus/<target>/) and every finding kept as a
// regression (tests/fuzz/regressions/<target>/), replayed through the same target function the
// fuzzer runs: each input must end in success or a steer::Error (the server target also accepts
// its RequestError), as in the fuzz binaries. Under the sanitizer build (scripts/
// sanitize_tests.sh) the replays run with ASan + UBSan too.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "fuzz_target.h"
#include "steer/error.h"

namespace fs = std::filesystem;

namespace {

// Returns how many inputs were replayed; a failure names the input file.
int replay(const std::string& target) {
  steer::fuzz::TargetFn fn = steer::fuzz::find_target(target);
  EXPECT_NE(fn, nullptr) << "no fuzz target " << target;
  if (!fn) return 0;
  int count = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    const fs::path dir = fs::path(STEER_FUZZ_DIR) / kind / target;
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      try {
        fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      } catch (const steer::Error&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << entry.path() << ": escaped as " << typeid(e).name() << ": " << e.what();
      }
      ++count;
    }
  }
  return count;
}

class FuzzReplay : public testing::TestWithParam<std::string> {};

TEST_P(FuzzReplay, EveryInputEndsCleanly) {
  // Seeds are part of the target: a target whose corpus went missing is not being tested.
  EXPECT_GT(replay(GetParam()), 0) << "tests/fuzz/corpus/" << GetParam() << "/ is empty";
}

const std::vector<std::string> kTargets = {"gguf", "gguf_model", "dequant", "safetensors", "hf_config",
                                   "hf_tokenizer", "tokenize", "chat_template", "vector_file", "prompts",
                                   "ab_stereoset", "steering_spec", "server_request", "user_files"};

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, testing::ValuesIn(kTargets),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

// A target added to tests/fuzz/ but not to the list above would never be replayed.
TEST(FuzzReplay, EveryTargetIsReplayed) {
  std::vector<std::string> listed = kTargets;
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(steer::fuzz::target_names(), listed);
}

}  // namespace
