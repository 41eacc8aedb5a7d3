// Messages (issue 16, class 8): an input problem is never called a bug in steer. The CLI's
// last-resort handlers (tools/steer/main.cc) report tensor errors and memory exhaustion with
// hints about inputs and options; no message in the sources blames steer outright.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_paths.h"

namespace steer {
namespace {

TEST(Messages, NoneSaysBugInSteer) {
  namespace fs = std::filesystem;
  std::vector<std::string> found;
  for (const char* dir : {"src", "tools/steer", "include/steer"})
    for (const auto& e : fs::recursive_directory_iterator(fs::path(test::source_dir()) / dir)) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path());
      std::string line;
      for (int n = 1; std::getline(in, line); ++n)
        if (line.find("bug in steer") != std::string::npos) found.push_back(e.path().string() + ":" + std::to_string(n));
    }
  EXPECT_TRUE(found.empty()) << ::testing::PrintToString(found);
}

}  // namespace
}  // namespace steer
