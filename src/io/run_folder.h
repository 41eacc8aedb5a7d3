// RunFolder: a run folder written all or nothing. A run's writers put their files into path(),
// a hidden staging folder .NAME.partial-PID beside the run folder (inside it when only the run
// folder itself is writable); commit() moves each entry into the run
// folder, replacing older files of the same name and keeping the others. Destroyed without
// commit() — a writer threw, the disk filled — the staging folder is removed and the run folder
// is as it was (or absent), so a failed run never leaves a plausible-looking partial result.
// The staging folder is a registered temporary output: SIGINT removes it (steer/outputs.h).
#pragma once
#include <string>

namespace steer {

class RunFolder {
 public:
  // `what` names the run in errors ("caa"); checks out_dir with check_output_folder first.
  RunFolder(std::string out_dir, const std::string& what);
  ~RunFolder();
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

  const std::string& path() const { return staging_; }  // where the writers write
  void commit();

 private:
  std::string out_dir_, staging_, what_;
  bool committed_ = false;
};

}  // namespace steer
