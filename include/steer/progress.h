// A progress bar on stderr for long work (loading, sweeps): label, count, rate and ETA.
// On a terminal it redraws one line; otherwise (logs, CI) it prints a line every ~10 %.
// Quiet mode (set_quiet) silences every bar, for tests and --quiet.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace steer {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "");
  ~Progress();  // finishes the line if finish() was not called
  void advance(int64_t n = 1);
  void set(int64_t done);
  void finish();

  static void set_quiet(bool quiet);

 private:
  void draw(bool final);

  std::string label_, unit_;
  int64_t total_, done_ = 0;
  int last_decile_ = -1;
  bool finished_ = false, tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace steer
