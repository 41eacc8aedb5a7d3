// tokenizer.json files that lie (issue 16, classes 1 and 2): an id far beyond the tokens the file
// defines would size the token table, and a wrong JSON type anywhere must be a steer::Error
// naming the file, never the JSON library's own message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "steer/error.h"
#include "steer/tokenizer.h"
#include "steer/vocab.h"
#include "test_paths.h"
#include "unit/base/io_test_util.h"

namespace steer {
namespace {

namespace fs = std::filesystem;

// A copy of tests/data/hf/stories260K whose tokenizer.json went through `edit`.
std::string hf_tokenizer_dir(const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
  const std::string src = test::test_data() + "/hf/stories260K", dir = test::scratch_dir() + "/" + name;
  fs::create_directories(dir);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "config.json"})
    fs::copy_file(src + "/" + f, dir + "/" + f, fs::copy_options::overwrite_existing);
  std::ifstream in(dir + "/tokenizer.json");
  nlohmann::json j = nlohmann::json::parse(in);
  edit(j);
  std::ofstream(dir + "/tokenizer.json") << j.dump();
  return dir;
}

TEST(HFTokenizerErrors, AHugeAddedTokenIdIsRefusedBeforeTheTableIsSized) {
  // Was: a vocabulary table of 2^31 "[PAD<id>]" strings (hundreds of GB) for one line of JSON.
  const std::string dir = hf_tokenizer_dir("huge_id", [](nlohmann::json& j) {
    j["added_tokens"].push_back({{"id", 2147483000}, {"content", "<big>"}, {"special", true}});
  });
  const std::string e = test::expect_error([&] { Tokenizer::from_hf_dir(dir); }, "2147483000");
  EXPECT_NE(e.find("tokenizer.json"), std::string::npos) << e;
  const std::string neg = hf_tokenizer_dir("neg_id", [](nlohmann::json& j) { j["added_tokens"][0]["id"] = -3; });
  test::expect_error([&] { Tokenizer::from_hf_dir(neg); }, "negative");
}

TEST(HFTokenizerErrors, WrongTokenizerTypesNameTheFileNotTheJsonLibrary) {
  const std::vector<std::function<void(nlohmann::json&)>> edits = {
      [](nlohmann::json& j) { j["added_tokens"][0]["id"] = "zero"; },
      [](nlohmann::json& j) { j["added_tokens"][0]["content"] = 5; },
      [](nlohmann::json& j) { j["added_tokens"] = "none"; },
      [](nlohmann::json& j) { j["model"]["vocab"]["a"] = "one"; },
      [](nlohmann::json& j) { j["model"]["vocab"] = nlohmann::json::array(); },
      [](nlohmann::json& j) { j["model"]["merges"] = 3; },
      [](nlohmann::json& j) { j["normalizer"]["type"] = 12; },
  };
  for (size_t i = 0; i < edits.size(); ++i) {
    const std::string dir = hf_tokenizer_dir("types" + std::to_string(i), edits[i]);
    const std::string e = test::expect_error([&] { Tokenizer::from_hf_dir(dir); }, dir);
    EXPECT_EQ(e.find("json.exception"), std::string::npos) << i << ": " << e;
  }
}

}  // namespace
}  // namespace steer

namespace steer {

// Found by fuzzing (tests/fuzz/regressions/hf_tokenizer/): a SentencePiece byte token whose text
// is not <0xHH> threw std::invalid_argument from std::stoi; it is a clear error naming the token.
TEST(HFTokenizerErrors, AByteTokenThatIsNotHexIsAClearError) {
  VocabSpec spec;
  spec.model = "llama";
  spec.tokens = {"<unk>", "<0x41>", "<0xZZ>", "\xe2\x96\x81" "a"};
  spec.scores = {0, 0, 0, -1};
  spec.token_types = {int32_t(TokenType::kUnknown), int32_t(TokenType::kByte), int32_t(TokenType::kByte),
                      int32_t(TokenType::kNormal)};
  spec.unk_id = 0;
  spec.source = "vocab.json";
  try {
    (void)Tokenizer::from_spec(spec);
    ADD_FAILURE() << "loaded a byte token <0xZZ>";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("token 2 '<0xZZ>'"), std::string::npos) << m;
    EXPECT_NE(m.find("vocab.json"), std::string::npos) << m;
  }
  spec.tokens[2] = "<0x5a>";  // lower-case hex is fine
  EXPECT_EQ(Tokenizer::from_spec(spec).decode({1, 2}), "AZ");
}

}  // namespace steer
