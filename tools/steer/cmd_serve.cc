// steer serve: an OpenAI-compatible HTTP server with per-request steering (steer/server.h).
// Runs until SIGINT or SIGTERM, then stops accepting, lets running requests finish within the
// grace period (cancelling the rest) and exits 0.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "cli.h"
#include "steer/model_cache.h"
#include "steer/outputs.h"
#include "steer/server.h"

namespace steer::cli {

namespace {

std::atomic<int> g_signal{0};  // set by the signal-waiting thread
void on_signal(int sig) { g_signal = sig; }

}  // namespace

std::function<int()> setup_serve(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string model = kDefaultModelName, chat_template;
    ServerOptions server;
    double grace_s = 10;
  };
  auto o = std::make_shared<Opts>();
  ServerOptions& s = o->server;
  sub.add_option("model", o->model, "Model: default model name, .gguf or HF directory")->capture_default_str();
  sub.add_option("--vectors", s.vectors_dir,
                 "Folder of steering vectors (.gguf / .safetensors): each is loaded under its file name without "
                 "extension; POST /v1/steering/vectors loads more from there");
  sub.add_option("--host", s.host, "Address to bind (loopback by default)")->capture_default_str();
  sub.add_option("--port", s.port, "Port (0: any free one, printed at start)")->capture_default_str()->check(CLI::Range(0, 65535));
  sub.add_option("--api-key", s.api_key, "Require \"Authorization: Bearer KEY\" on /v1 requests");
  sub.add_option("--max-batch", s.max_batch, "Requests decoded together (continuous batching)")
      ->capture_default_str()->check(CLI::Range(1, 1024));
  sub.add_option("--max-queue", s.max_queue, "Requests waiting beyond those; more get 429")
      ->capture_default_str()->check(CLI::Range(0, 100000));
  sub.add_option("--max-tokens", s.max_tokens, "Most new tokens one request may ask for")
      ->capture_default_str()->check(CLI::Range(1, 1 << 20));
  sub.add_option("--ctx", s.context, "Prompt + new tokens at most (0: the model's context length)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  sub.add_option("--timeout", s.request_timeout_s, "Seconds a request may run")
      ->capture_default_str()->check(CLI::PositiveNumber & finite_in(0, HUGE_VAL));
  sub.add_option("--grace", o->grace_s, "Seconds running requests get to finish at SIGINT/SIGTERM")
      ->capture_default_str()->check(finite_in(0, HUGE_VAL));
  sub.add_option("--name", s.model_name, "Model name /v1/models reports (default: the file's stem)");
  sub.add_option("--chat-template", o->chat_template, "Chat template file (overrides the model's)");
  return [o, &global]() {
    auto model = load_model(o->model, global, o->chat_template);
    o->server.quiet = global.quiet;
    Server server(model, o->server);
    set_interrupt_handler(on_signal);  // main() takes the signals on a waiting thread (steer/outputs.h)
    const int port = server.start();
    std::fprintf(stderr, "steer serve: http://%s:%d/ (playground), OpenAI API at http://%s:%d/v1 — %s, batch %d\n",
                 o->server.host.c_str(), port, o->server.host.c_str(), port, dtype_name(model->dtype()).c_str(),
                 o->server.max_batch);
    while (!g_signal) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::fprintf(stderr, "steer serve: %s, stopping (grace %.0f s)\n", g_signal == SIGINT ? "SIGINT" : "SIGTERM",
                 o->grace_s);
    server.stop(o->grace_s);
    std::fprintf(stderr, "steer serve: stopped\n");
    return 0;
  };
}

}  // namespace steer::cli
