// Paths that are not files (issue 16, class 4): a FIFO or a device where a file is expected is
// refused before it is read (a FIFO would block open() forever, /dev/zero never ends), and every
// whole-file read is bounded.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/read_file.h"
#include "steer/chat_template.h"
#include "steer/gguf.h"
#include "steer/safetensors.h"
#include "test_paths.h"
#include "unit/base/io_test_util.h"

namespace steer {
namespace {

namespace fs = std::filesystem;

// A FIFO nobody writes to: opening it for reading without O_NONBLOCK would wait forever.
std::string fifo() {
  static const std::string path = [] {
    std::string p = test::scratch_dir() + "/fifo";
    ::mkfifo(p.c_str(), 0600);
    return p;
  }();
  return path;
}

TEST(UntrustedFiles, AFifoIsRefusedWithoutBlocking) {
  test::expect_error([] { read_regular_file(fifo(), "prompt file"); }, "not a regular file");
  test::expect_error([] { GGUFFile::open(fifo()); }, "not a regular file");
  test::expect_error([] { SafetensorsFile::open(fifo()); }, "not a regular file");
  test::expect_error([] { ChatTemplate::from_file(fifo()); }, "not a regular file");
}

TEST(UntrustedFiles, ADeviceIsRefusedNotReadForever) {
  test::expect_error([] { read_regular_file("/dev/zero", "prompt file"); }, "'/dev/zero' is not a regular file");
  test::expect_error([] { read_json_file("/dev/zero", "tokenizer"); }, "not a regular file");
  test::expect_error([] { GGUFFile::open("/dev/zero"); }, "not a regular file");
  test::expect_error([] { read_regular_file(test::scratch_dir(), "prompt file"); }, "is a directory");
}

TEST(UntrustedFiles, EveryReadIsBounded) {
  const std::string path = test::scratch_dir() + "/big.txt";
  std::ofstream(path) << std::string(5000, 'x');
  EXPECT_EQ(read_regular_file(path, "prompt file", 5000).size(), 5000u);
  test::expect_error([&] { read_regular_file(path, "prompt file", 4999); }, "larger than 4999 bytes");
}

TEST(UntrustedFiles, JsonSyntaxErrorsGiveLineAndColumnNotTheLibraryCode) {
  const std::string path = test::scratch_dir() + "/bad.json";
  std::ofstream(path) << "{\n  \"a\": 1,\n  oops\n}";
  const std::string e = test::expect_error([&] { read_json_file(path, "model config"); }, "line 3, column 3");
  EXPECT_EQ(e.find("json.exception"), std::string::npos) << e;
}

// Found by fuzzing (tests/fuzz/regressions/{hf_config,prompts,ab_stereoset}/): a number beyond
// double's range is not a syntax error to the JSON library, which threw json::out_of_range past
// every handler that caught its parse errors. It is a steer::Error naming the file.
TEST(UntrustedFiles, AJsonNumberBeyondDoubleIsAClearError) {
  const fs::path path = fs::temp_directory_path() / ("steer-overflow-" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << R"({"hidden_size": 9.9e999999999})";
  try {
    (void)read_json_file(path.string(), "config file");
    ADD_FAILURE() << "parsed 9.9e999999999";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path.string()), std::string::npos) << m;
    EXPECT_NE(m.find("number overflow"), std::string::npos) << m;
    EXPECT_EQ(m.find("json.exception"), std::string::npos) << m;  // no library error code
  }
  fs::remove(path);
}

}  // namespace
}  // namespace steer
