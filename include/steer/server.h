// steer::Server — an OpenAI-compatible HTTP server for one model, with per-request steering.
//
//   auto model = steer::Model::load("smollm2-135m.gguf");
//   steer::ServerOptions o;
//   o.vectors_dir = "vectors";          // every .gguf / .safetensors there is loaded by its stem
//   steer::Server server(model, o);
//   int port = server.start();          // serves in the background; o.port = 0 picks a free port
//   ...
//   server.stop(10.0);                  // stop accepting, finish (or cancel after 10 s), return
//
// Endpoints: POST /v1/chat/completions and /v1/completions (OpenAI request and response shapes,
// stream: true as server-sent events ending with `data: [DONE]`), GET /v1/models, GET /health,
// GET /metrics (Prometheus text), GET/POST/DELETE /v1/steering/vectors, and GET / — a steering
// playground page. A request may carry
//   "steering": {"add": [{"vector": NAME, "layers": [..] | "a-b", "coefficient": c,
//                         "positions": "generated" | "all" | "after_instruction"}],
//                "ablate": [NAME, ...]}
// (also under "extra_body"). Requests with different steering decode in one batch (continuous
// batching, serve/scheduler.h); each gets what it would get alone.
//
// Failure: start() throws steer::Error when it cannot bind; bad requests get a 4xx with an
// OpenAI-style error body naming the field; a full queue gets 429 with Retry-After.
#pragma once
#include <memory>
#include <string>

#include "steer/model.h"

namespace steer {

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback unless asked otherwise
  int port = 8080;                 // 0: any free port (start() returns it)
  std::string api_key;             // non-empty: every /v1 request needs "Authorization: Bearer KEY"
  std::string vectors_dir;         // where named vectors are loaded from; empty: none
  std::string model_name;          // the name /v1/models reports; empty: the model's file stem
  int max_batch = 16;              // rows decoded together
  int max_queue = 64;              // requests waiting beyond those; more get 429
  int max_tokens = 2048;           // the most new tokens one request may ask for
  int64_t context = 0;             // prompt + new tokens at most; 0: the model's context length
  double request_timeout_s = 300;  // a request still running then ends with finish_reason "timeout"
  int http_threads = 64;           // connections served at once (each streaming request holds one)
  bool quiet = false;              // no request log on stderr
};

class Server {
 public:
  Server(std::shared_ptr<const Model> model, ServerOptions options);
  ~Server();  // stop(0) if still running

  int start();              // binds and serves in the background; returns the port
  void stop(double grace_s);  // stop accepting; running requests finish, or are cancelled after grace_s
  bool running() const;
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace steer
