// RunFolder (run_folder.h): stage in a sibling folder, then rename each entry into place.
#include "io/run_folder.h"

#include <unistd.h>

#include <filesystem>

#include "steer/error.h"
#include "steer/outputs.h"

namespace steer {

namespace fs = std::filesystem;

RunFolder::RunFolder(std::string out_dir, const std::string& what) : out_dir_(std::move(out_dir)), what_(what) {
  check_output_folder("-o", out_dir_);
  fs::path out = fs::path(out_dir_).lexically_normal();
  if (out.filename().empty()) out = out.parent_path();  // "runs/x/"
  fs::path parent = out.parent_path();
  if (parent.empty()) parent = ".";
  // Beside the run folder; inside it when only the folder itself may be written (check_output_folder
  // has made sure one of them can be).
  std::error_code ec;
  const bool beside = !fs::is_directory(out, ec) || ::access(parent.c_str(), W_OK | X_OK) == 0;
  staging_ = ((beside ? parent : out) / ("." + out.filename().string() + ".partial-" + std::to_string(::getpid())))
                 .string();
  register_temporary_output(staging_);
  fs::remove_all(staging_, ec);
  fs::create_directories(staging_, ec);
  if (ec) {
    unregister_temporary_output(staging_);
    fail(what_ + ": cannot create the run folder " + out_dir_ + ": " + ec.message(), "check -o and its permissions");
  }
}

RunFolder::~RunFolder() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
  unregister_temporary_output(staging_);
}

void RunFolder::commit() {
  if (committed_) return;
  std::error_code ec;
  fs::create_directories(out_dir_, ec);
  if (ec) fail(what_ + ": cannot create the run folder " + out_dir_ + ": " + ec.message(), "check -o and its permissions");
  for (const auto& entry : fs::directory_iterator(staging_)) {
    const fs::path to = fs::path(out_dir_) / entry.path().filename();
    if (fs::is_directory(to, ec) && !fs::is_symlink(to, ec)) fs::remove_all(to, ec);  // rename cannot replace a full folder
    fs::rename(entry.path(), to, ec);
    if (ec) fail(what_ + ": cannot move " + entry.path().string() + " to " + to.string() + ": " + ec.message());
  }
  fs::remove(staging_, ec);
  unregister_temporary_output(staging_);
  committed_ = true;
}

}  // namespace steer
