// Outputs (steer/outputs.h, io/run_folder.h): -o is checked before the work (a missing parent,
// a folder where a file goes, a FIFO, the input itself); a run folder is written all or
// nothing; SIGINT removes every temporary output and the process still ends by the signal.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "io/atomic_file.h"
#include "io/run_folder.h"
#include "steer/error.h"
#include "steer/outputs.h"
#include "test_errors.h"

namespace steer {
namespace {

namespace fs = std::filesystem;
using test::error_of;

// A fresh scratch folder per test.
struct Scratch {
  fs::path dir;
  Scratch() {
    dir = fs::temp_directory_path() /
          ("steer-outputs-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Entries of `dir` whose name marks a temporary output.
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (contains(n, ".tmp-") || contains(n, ".partial-")) out.push_back(n);
  }
  return out;
}

TEST(CheckOutput, FileProblemsAreFoundBeforeTheWork) {
  Scratch s;
  EXPECT_NO_THROW(check_output_file("-o", s / "new.safetensors"));
  std::ofstream(s / "old.safetensors") << "x";
  EXPECT_NO_THROW(check_output_file("-o", s / "old.safetensors"));  // overwriting a file is fine

  std::string e = error_of([&] { check_output_file("-o", s / "no/such/dir/v.safetensors"); });
  EXPECT_TRUE(contains(e, "-o ") && contains(e, "does not exist")) << e;
  e = error_of([&] { check_output_file("-o", s.dir.string()); });
  EXPECT_TRUE(contains(e, "is a folder")) << e;
  ASSERT_EQ(::mkfifo((s / "fifo").c_str(), 0600), 0);
  e = error_of([&] { check_output_file("-o", s / "fifo"); });
  EXPECT_TRUE(contains(e, "not a regular file")) << e;
  std::ofstream(s / "file") << "x";
  e = error_of([&] { check_output_file("-o", s / "file/v.safetensors"); });
  EXPECT_TRUE(contains(e, "is not a folder")) << e;
  EXPECT_TRUE(contains(error_of([&] { check_output_file("-o", ""); }), "empty"));
  if (::geteuid() != 0) {  // root writes anywhere
    fs::create_directories(s / "ro");
    fs::permissions(s / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    EXPECT_TRUE(contains(error_of([&] { check_output_file("-o", s / "ro/v.gguf"); }), "not writable"));
    fs::permissions(s / "ro", fs::perms::owner_all);
  }
}

TEST(CheckOutput, NeverOverItsOwnInput) {
  Scratch s;
  std::ofstream(s / "model.gguf") << "x";
  const std::string same[] = {s / "model.gguf", s / "./model.gguf", s / "sub/../model.gguf"};
  fs::create_directories(s / "sub");
  for (const std::string& out : same) {
    const std::string e = error_of([&] { check_output_file("--output", out, {s / "model.gguf"}); });
    EXPECT_TRUE(contains(e, "would overwrite the input")) << out << ": " << e;
  }
  fs::create_symlink(s / "model.gguf", s / "link.gguf");
  EXPECT_TRUE(contains(error_of([&] { check_output_file("--output", s / "link.gguf", {s / "model.gguf"}); }),
                       "would overwrite the input"));
  EXPECT_NO_THROW(check_output_file("--output", s / "other.gguf", {s / "model.gguf"}));
  // A folder output may not be the input folder, nor hold the input.
  fs::create_directories(s / "hf");
  std::ofstream(s / "hf/config.json") << "{}";
  EXPECT_TRUE(contains(error_of([&] { check_output_folder("--output", s / "hf/", {s / "hf"}); }), "would overwrite"));
  EXPECT_TRUE(contains(error_of([&] { check_output_folder("-o", s.dir.string(), {s / "hf/config.json"}); }),
                       "would overwrite"));
  EXPECT_NO_THROW(check_output_folder("--output", s / "hf-abliterated", {s / "hf"}));
}

TEST(CheckOutput, FolderProblems) {
  Scratch s;
  EXPECT_NO_THROW(check_output_folder("-o", s / "runs/a/b"));  // made later, with its parents
  std::ofstream(s / "file") << "x";
  EXPECT_TRUE(contains(error_of([&] { check_output_folder("-o", s / "file"); }), "is not a folder"));
  EXPECT_TRUE(contains(error_of([&] { check_output_folder("-o", s / "file/run"); }), "is a file"));
}

TEST(RunFolder, CommitMovesEverythingInAndKeepsOtherFiles) {
  Scratch s;
  fs::create_directories(s / "run/sub");
  std::ofstream(s / "run/keep.txt") << "mine";
  std::ofstream(s / "run/summary.json") << "old";
  std::ofstream(s / "run/sub/old.csv") << "old";
  {
    RunFolder f(s / "run", "test");
    EXPECT_NE(f.path(), s / "run");
    std::ofstream(f.path() + "/summary.json") << "new";
    fs::create_directories(f.path() + "/sub");
    std::ofstream(f.path() + "/sub/new.csv") << "new";
    f.commit();
  }
  std::ifstream in(s / "run/summary.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "new");
  EXPECT_TRUE(fs::exists(s / "run/keep.txt"));
  EXPECT_TRUE(fs::exists(s / "run/sub/new.csv"));
  EXPECT_FALSE(fs::exists(s / "run/sub/old.csv"));  // a sub-folder is replaced whole
  EXPECT_TRUE(leftovers(s.dir).empty());
}

TEST(RunFolder, AFailedWriteLeavesNoRunFolder) {
  Scratch s;
  try {
    RunFolder f(s / "runs/new", "test");
    std::ofstream(f.path() + "/summary.json") << "{}";
    fail("a writer failed");
  } catch (const Error&) {
  }
  EXPECT_FALSE(fs::exists(s / "runs/new"));  // no plausible-looking partial folder
  EXPECT_TRUE(leftovers(s / "runs").empty());
  std::ofstream(s / "afile") << "x";
  EXPECT_TRUE(contains(error_of([&] { RunFolder f(s / "afile", "test"); }), "is not a folder"));
}

// A run folder the user may write whose parent they may not: staged inside it instead.
TEST(RunFolder, StagesInsideWhenOnlyTheFolderIsWritable) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes anywhere";
  Scratch s;
  fs::create_directories(s / "locked/run");
  fs::permissions(s / "locked", fs::perms::owner_read | fs::perms::owner_exec);
  {
    RunFolder f(s / "locked/run", "test");
    EXPECT_EQ(fs::path(f.path()).parent_path(), fs::path(s / "locked/run"));
    std::ofstream(f.path() + "/summary.json") << "{}";
    f.commit();
  }
  EXPECT_TRUE(fs::exists(s / "locked/run/summary.json"));
  EXPECT_TRUE(leftovers(s / "locked/run").empty());
  fs::permissions(s / "locked", fs::perms::owner_all);
}

TEST(TemporaryOutputs, AtomicFileRegistersItsTempFile) {
  Scratch s;
  const std::string path = s / "v.safetensors";
  AtomicFile f(path);
  f.write("abc", 3);
  ASSERT_EQ(leftovers(s.dir).size(), 1u);
  remove_temporary_outputs();  // what SIGINT does
  EXPECT_TRUE(leftovers(s.dir).empty());
}

// SIGINT in the middle of writing: the temp file and a staged run folder are removed, and the
// process ends by SIGINT (as a shell expects), not by exit(0).
TEST(TemporaryOutputs, SigintRemovesThemAndEndsByTheSignal) {
  Scratch s;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    install_interrupt_cleanup();
    AtomicFile f(s / "big.safetensors");
    f.write("partial", 7);
    RunFolder run(s / "run", "test");
    std::ofstream(run.path() + "/summary.json") << "{}";
    ::kill(::getpid(), SIGINT);
    for (int i = 0; i < 500; ++i) ::usleep(10000);  // the signal thread ends the process
    ::_exit(3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGINT);
  EXPECT_TRUE(leftovers(s.dir).empty()) << ::testing::PrintToString(leftovers(s.dir));
  EXPECT_FALSE(fs::exists(s / "run"));
  EXPECT_FALSE(fs::exists(s / "big.safetensors"));
}

}  // namespace
}  // namespace steer
