// Output paths checked before the work, and temporary outputs removed on SIGINT/SIGTERM
// (steer/outputs.h). Signals are taken by one waiting thread (sigwait), not a handler, so the
// cleanup may allocate and walk folders safely while other threads are mid-computation.
#include "steer/outputs.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "steer/error.h"

namespace steer {

namespace fs = std::filesystem;

namespace {

bool writable(const fs::path& p) { return ::access(p.c_str(), W_OK | X_OK) == 0; }

// `p` made absolute, with symlinks and "." / ".." resolved as far as it exists, no trailing '/'.
std::string canonical_text(const fs::path& p) {
  std::error_code ec;
  std::string s = fs::weakly_canonical(fs::absolute(p), ec).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// True when `a` names the same file or folder as `b`, or (inside_ok) lies inside folder `b`.
bool same_or_inside(const fs::path& a, const fs::path& b, bool inside_ok) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec)) return true;  // hard links too
  const std::string ca = canonical_text(a), cb = canonical_text(b);
  return ca == cb || (inside_ok && ca.size() > cb.size() && ca.compare(0, cb.size(), cb) == 0 && ca[cb.size()] == '/');
}

void check_inputs(const std::string& option, const std::string& path, const std::vector<std::string>& inputs,
                  bool folder) {
  for (const std::string& in : inputs)
    if (!in.empty() && same_or_inside(in, path, folder))
      fail(option + " " + path + " would overwrite the input " + in,
           "write to another path; the input is read while the output is written");
}

std::mutex g_mutex;
std::set<std::string>& registry() {
  static std::set<std::string> paths;
  return paths;
}
std::function<void(int)> g_handler;
pthread_t g_waiter;

// Threads started before main() (libtorch's pools) do not have the signals blocked, so one of
// them may receive SIGINT: this handler only hands it on to the waiting thread
// (pthread_kill is async-signal-safe).
void forward_to_waiter(int sig) { ::pthread_kill(g_waiter, sig); }

}  // namespace

void check_output_file(const std::string& option, const std::string& path, const std::vector<std::string>& inputs) {
  if (path.empty()) fail(option + ": the path is empty", "give a file name");
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (fs::exists(st)) {
    if (fs::is_directory(st))
      fail(option + " " + path + " is a folder, not a file", "give a file name (a folder is not replaced)");
    if (!fs::is_regular_file(st))
      fail(option + " " + path + " exists and is not a regular file (a FIFO, socket or device)",
           "give the name of a new or regular file");
    if (::access(path.c_str(), W_OK) != 0) fail(option + " " + path + " exists and is not writable", "check its permissions");
  }
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  if (!fs::exists(parent, ec))
    fail(option + " " + path + ": the folder " + parent.string() + " does not exist",
         "create it first (mkdir -p " + parent.string() + ")");
  if (!fs::is_directory(parent, ec)) fail(option + " " + path + ": " + parent.string() + " is not a folder");
  if (!writable(parent)) fail(option + " " + path + ": the folder " + parent.string() + " is not writable",
                              "check its permissions or write elsewhere");
  check_inputs(option, path, inputs, false);
}

void check_output_folder(const std::string& option, const std::string& path, const std::vector<std::string>& inputs) {
  if (path.empty()) fail(option + ": the path is empty", "give a folder name");
  std::error_code ec;
  fs::path p = path;
  if (fs::exists(p, ec)) {
    if (!fs::is_directory(p, ec))
      fail(option + " " + path + " exists and is not a folder", "give a folder name, or move the file away");
    if (!writable(p)) fail(option + " " + path + ": the folder is not writable", "check its permissions or write elsewhere");
  } else {
    fs::path a = p.parent_path();
    while (!a.empty() && !fs::exists(a, ec)) a = a.parent_path();
    if (a.empty()) a = ".";
    if (!fs::is_directory(a, ec))
      fail(option + " " + path + ": cannot make the folder, " + a.string() + " is a file", "give another folder");
    if (!writable(a)) fail(option + " " + path + ": cannot make the folder inside " + a.string() + " (not writable)",
                           "check its permissions or write elsewhere");
  }
  check_inputs(option, path, inputs, true);
}

void register_temporary_output(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  registry().insert(path);
}

void unregister_temporary_output(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  registry().erase(path);
}

void remove_temporary_outputs() {
  std::lock_guard<std::mutex> lock(g_mutex);
  for (const std::string& p : registry()) {
    std::error_code ec;
    fs::remove_all(p, ec);
  }
  registry().clear();
}

void set_interrupt_handler(std::function<void(int)> handler) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_handler = std::move(handler);
}

void install_interrupt_cleanup() {
  static std::once_flag once;
  std::call_once(once, [] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread waiter([set] {
      for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        std::function<void(int)> handler;
        {
          std::lock_guard<std::mutex> lock(g_mutex);
          handler = g_handler;
        }
        if (handler) {
          handler(sig);
          continue;
        }
        remove_temporary_outputs();
        std::fprintf(stderr, "\nsteer: interrupted (%s); temporary outputs removed\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        // End by the signal itself, as without this thread (exit status 128 + sig in a shell).
        std::signal(sig, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
        ::raise(sig);
        ::_exit(128 + sig);
      }
    });
    g_waiter = waiter.native_handle();
    waiter.detach();
    for (int sig : {SIGINT, SIGTERM}) {
      struct sigaction old {};
      sigaction(sig, nullptr, &old);
      if (old.sa_handler == SIG_IGN) continue;  // ignored on purpose (nohup, a background job): keep it so
      struct sigaction sa {};
      sa.sa_handler = forward_to_waiter;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESTART;
      sigaction(sig, &sa, nullptr);
    }
  });
}

}  // namespace steer
