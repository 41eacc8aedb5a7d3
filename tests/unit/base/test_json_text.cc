// Text output never throws on text (steer/json_text.h): a string that is not valid UTF-8 — a
// token cut inside an emoji, a path with a Latin-1 byte — becomes U+FFFD in JSON, and every
// JSON document in src/ and tools/ is written through json_text (no bare .dump()).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "steer/json_text.h"
#include "test_paths.h"

namespace steer {
namespace {

const std::string kCutEmoji = "ok \xF0\x9F\x98";  // the first 3 of the 4 bytes of U+1F600
const std::string kFffd = "\xEF\xBF\xBD";

TEST(JsonText, InvalidUtf8BecomesReplacementCharacter) {
  nlohmann::json j = {{"text", kCutEmoji}, {"path", "/models/caf\xE9.gguf"}, {"ids", {1, 2}}};
  EXPECT_THROW((void)j.dump(), nlohmann::json::exception);  // what the writers used to do
  std::string out;
  ASSERT_NO_THROW(out = json_text(j));
  EXPECT_TRUE(is_valid_utf8(out));
  auto back = nlohmann::json::parse(out);
  EXPECT_EQ(back["text"], "ok " + kFffd);
  EXPECT_EQ(back["path"], "/models/caf" + kFffd + ".gguf");
  EXPECT_EQ(back["ids"], nlohmann::json({1, 2}));
  nlohmann::ordered_json o = {{"name", "x\xFF"}};
  EXPECT_NO_THROW((void)json_text(o, 2));
}

TEST(JsonText, ValidTextIsUnchanged) {
  const std::string s = "h\xC3\xA9llo \xF0\x9F\x98\x80 " + kFffd;  // é, an emoji, a literal U+FFFD
  EXPECT_TRUE(is_valid_utf8(s));
  EXPECT_EQ(valid_utf8(s), s);
  EXPECT_EQ(nlohmann::json::parse(json_text(nlohmann::json(s))).get<std::string>(), s);
}

TEST(JsonText, ValidUtf8ReplacesEachBadByte) {
  EXPECT_FALSE(is_valid_utf8(kCutEmoji));
  EXPECT_EQ(valid_utf8(kCutEmoji), "ok " + kFffd + kFffd + kFffd);
  EXPECT_EQ(valid_utf8("a\xC0\xAF" "b"), "a" + kFffd + kFffd + "b");  // overlong '/'
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);       // a surrogate
}

// Every JSON text in the library and the CLI goes through json_text: a bare .dump() is the
// old failure (it throws on invalid UTF-8), so none may come back.
TEST(JsonText, NoBareDumpInSources) {
  namespace fs = std::filesystem;
  std::vector<std::string> found;
  for (const char* dir : {"src", "tools/steer", "include/steer"}) {
    for (const auto& e : fs::recursive_directory_iterator(fs::path(test::source_dir()) / dir)) {
      if (!e.is_regular_file() || e.path().filename() == "json_text.h") continue;
      const std::string ext = e.path().extension().string();
      if (ext != ".cc" && ext != ".h") continue;
      std::ifstream in(e.path());
      std::string line;
      for (int n = 1; std::getline(in, line); ++n)
        if (line.find(".dump(") != std::string::npos) found.push_back(e.path().string() + ":" + std::to_string(n));
    }
  }
  EXPECT_TRUE(found.empty()) << "use steer::json_text (steer/json_text.h) instead of .dump() at:\n"
                             << ::testing::PrintToString(found);
}

}  // namespace
}  // namespace steer
