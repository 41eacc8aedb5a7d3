#include "steer/progress.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

namespace steer {
namespace {
std::atomic<bool> g_quiet{false};

std::string format_seconds(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}
}  // namespace

void Progress::set_quiet(bool quiet) { g_quiet = quiet; }

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(isatty(2)) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
  draw(false);
}

Progress::~Progress() { finish(); }

void Progress::advance(int64_t n) { set(done_ + n); }

void Progress::set(int64_t done) {
  done_ = done;
  auto now = std::chrono::steady_clock::now();
  if (tty_ && now - last_draw_ < std::chrono::milliseconds(100) && done_ < total_) return;
  last_draw_ = now;
  draw(false);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (done_ < total_) done_ = total_;
  draw(true);
}

void Progress::draw(bool final) {
  if (g_quiet || total_ <= 0) return;
  double frac = double(done_) / double(total_);
  int decile = int(frac * 10);
  if (!tty_ && !final && decile == last_decile_) return;
  last_decile_ = decile;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? done_ / elapsed : 0;
  std::string eta = (rate > 0 && done_ < total_) ? format_seconds((total_ - done_) / rate) : "";
  constexpr int kWidth = 28;
  int filled = int(frac * kWidth);
  std::string bar(filled, '#');
  bar.resize(kWidth, '.');
  char line[256];
  std::snprintf(line, sizeof line, "%s [%s] %lld/%lld %s %.1f/s %s%s", label_.c_str(), bar.c_str(),
                (long long)done_, (long long)total_, unit_.c_str(), rate,
                final ? format_seconds(elapsed).c_str() : (eta.empty() ? "" : "eta "),
                final ? "" : eta.c_str());
  if (tty_) std::fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
  else std::fprintf(stderr, "%s\n", line);
  std::fflush(stderr);
}

}  // namespace steer
