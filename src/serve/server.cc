// The HTTP side of steer::Server (steer/server.h): cpp-httplib routes over the scheduler
// (serve/scheduler.h), the OpenAI shapes (serve/openai.h) and the vector registry
// (serve/vectors.h). Handlers run on httplib's worker threads; only the scheduler's thread
// touches the model.
#include "steer/server.h"

// httplib's accept queue is 5 connections by default; with dozens of clients reconnecting per
// request on a saturated CPU a full queue drops handshakes (the client then sees its request
// go unanswered), so the queue is as deep as the kernel allows.
#define CPPHTTPLIB_LISTEN_BACKLOG 4096
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <thread>

#include "steer/error.h"
#include "serve/openai.h"
#include "serve/playground.h"
#include "serve/scheduler.h"
#include "serve/vectors.h"

namespace steer {

using nlohmann::json;
using namespace steer::serve;

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void send_error(httplib::Response& res, int status, const std::string& message, const std::string& param = "") {
  res.status = status;
  res.set_content(dump_json(error_body(message, error_type(status), param)), "application/json");
}

// Pieces of text a streaming request's job hands over, for the connection thread to send.
struct Stream {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> pieces;
  bool client_gone = false;
};

}  // namespace

struct Server::Impl {
  std::shared_ptr<const Model> model;
  ServerOptions options;
  std::string model_name;
  RequestLimits limits;
  VectorRegistry vectors;
  Scheduler scheduler;
  httplib::Server http;
  std::thread thread;
  std::atomic<bool> accepting{false};
  std::atomic<int64_t> next_id{0};
  std::atomic<int64_t> http_requests{0}, http_errors{0};
  int port = -1;

  Impl(std::shared_ptr<const Model> m, ServerOptions o)
      : model(std::move(m)),
        options(std::move(o)),
        vectors(model->config(), options.vectors_dir),
        scheduler(model, {options.max_batch, options.max_queue}) {
    model_name = options.model_name.empty() ? std::filesystem::path(model->path()).stem().string() : options.model_name;
    limits.max_tokens = options.max_tokens;
    limits.default_max_tokens = std::min(256, options.max_tokens);
    limits.context = options.context;
    for (const std::string& w : vectors.load_folder()) std::fprintf(stderr, "warning: --vectors: %s\n", w.c_str());
    routes();
  }

  void log(const httplib::Request& req, int status) {
    ++http_requests;
    if (status >= 400) ++http_errors;
    if (!options.quiet) std::fprintf(stderr, "%s %s → %d\n", req.method.c_str(), req.path.c_str(), status);
  }

  bool authorized(const httplib::Request& req) const {
    if (options.api_key.empty()) return true;
    return req.get_header_value("Authorization") == "Bearer " + options.api_key;
  }

  void routes();
  void completion(const httplib::Request& req, httplib::Response& res, bool chat);
  std::string metrics() const;
};

void Server::Impl::routes() {
  http.new_task_queue = [n = options.http_threads] { return new httplib::ThreadPool(size_t(std::max(4, n))); };
  http.set_payload_max_length(1 << 20);  // 1 MiB of request body at most
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const bool open = req.path == "/" || req.path == "/health";
    if (!open && !authorized(req)) {
      send_error(res, 401, "a valid API key is required: send \"Authorization: Bearer KEY\"");
      log(req, 401);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!accepting && req.path != "/health" && req.path != "/metrics") {
      send_error(res, 503, "the server is shutting down");
      res.set_header("Retry-After", "5");
      log(req, 503);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, 500, what);
    log(req, 500);
  });

  http.Get("/", [this](const httplib::Request& req, httplib::Response& res) {
    res.set_content(playground_html(), "text/html; charset=utf-8");
    log(req, 200);
  });
  http.Get("/health", [this](const httplib::Request& req, httplib::Response& res) {
    res.set_content(dump_json({{"status", accepting ? "ok" : "shutting_down"}, {"model", model_name}}), "application/json");
    log(req, 200);
  });
  http.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
    res.set_content(metrics(), "text/plain; version=0.0.4");
    log(req, 200);
  });
  http.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
    json data = json::array({{{"id", model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "steer"}}});
    res.set_content(dump_json({{"object", "list"}, {"data", data}}), "application/json");
    log(req, 200);
  });
  http.Get("/v1/steering/vectors", [this](const httplib::Request& req, httplib::Response& res) {
    res.set_content(dump_json({{"object", "list"}, {"data", vectors.list()}, {"n_layers", model->config().n_layers}}),
                    "application/json");
    log(req, 200);
  });
  http.Post("/v1/steering/vectors", [this](const httplib::Request& req, httplib::Response& res) {
    json j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("file") || !j["file"].is_string()) {
      send_error(res, 400, "the body must be {\"file\": NAME_IN_THE_VECTOR_FOLDER, \"name\": optional}", "file");
      return log(req, 400);
    }
    if (j.contains("name") && !j["name"].is_string()) {
      send_error(res, 400, "name must be a string", "name");
      return log(req, 400);
    }
    try {
      std::string name = vectors.load(j["file"].get<std::string>(), j.value("name", std::string()));
      res.set_content(dump_json({{"loaded", name}, {"data", vectors.list()}}), "application/json");
      log(req, 200);
    } catch (const Error& e) {
      send_error(res, 400, e.what(), "file");
      log(req, 400);
    }
  });
  http.Delete(R"(/v1/steering/vectors/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    if (!vectors.unload(name)) {
      send_error(res, 404, "no vector named \"" + name + "\" is loaded", "name");
      return log(req, 404);
    }
    res.set_content(dump_json({{"unloaded", name}}), "application/json");
    log(req, 200);
  });
  http.Post("/v1/chat/completions",
            [this](const httplib::Request& req, httplib::Response& res) { completion(req, res, true); });
  http.Post("/v1/completions",
            [this](const httplib::Request& req, httplib::Response& res) { completion(req, res, false); });
}

void Server::Impl::completion(const httplib::Request& req, httplib::Response& res, bool chat) {
  CompletionRequest parsed;
  try {
    parsed = parse_completion_request(req.body, chat, *model, vectors, limits);
  } catch (const RequestError& e) {
    send_error(res, e.status, e.what(), e.param);
    return log(req, e.status);
  } catch (const Error& e) {
    send_error(res, 400, e.what());
    return log(req, 400);
  }
  auto job = std::make_shared<Job>();
  job->prompt = parsed.prompt;
  job->max_tokens = parsed.max_tokens;
  job->sampling = parsed.sampling;
  job->stop = parsed.stop;
  job->steering = parsed.steering;
  job->deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                          std::chrono::duration<double>(options.request_timeout_s));
  auto stream = std::make_shared<Stream>();
  if (parsed.stream)
    job->on_delta = [stream](const std::string& piece) {
      std::lock_guard<std::mutex> lk(stream->mu);
      if (stream->client_gone) return false;
      stream->pieces.push_back(piece);
      stream->cv.notify_all();
      return true;
    };
  if (!scheduler.submit(job)) {
    if (scheduler.stopping()) {
      send_error(res, 503, "the server is shutting down");
      res.set_header("Retry-After", "5");
      return log(req, 503);
    }
    send_error(res, 429, "too many requests are waiting; try again shortly");
    res.set_header("Retry-After", "1");
    return log(req, 429);
  }
  const std::string id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id++);
  const int64_t created = unix_now();
  auto request = std::make_shared<CompletionRequest>(std::move(parsed));
  log(req, 200);

  if (!request->stream) {
    // Whitespace while the job runs (valid JSON may lead with it): a write that fails means the
    // client went away, and the job is cancelled at the next step.
    res.set_chunked_content_provider(
        "application/json",
        [job, request, id, created, this](size_t, httplib::DataSink& sink) {
          if (!job->wait_for(std::chrono::milliseconds(500))) {
            if (!sink.write(" ", 1)) {
              job->cancel = true;
              return false;
            }
            return true;
          }
          std::string body = dump_json(completion_response(*request, job->result(), id, model_name, created));
          sink.write(body.data(), body.size());
          sink.done();
          return true;
        },
        [job](bool) { job->cancel = true; });  // a no-op once done
    return;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [job, request, stream, id, created, this](size_t, httplib::DataSink& sink) {
        auto send = [&](const json& chunk) {
          std::string line = "data: " + dump_json(chunk) + "\n\n";
          return sink.write(line.data(), line.size());
        };
        std::deque<std::string> pieces;
        {
          std::unique_lock<std::mutex> lk(stream->mu);
          stream->cv.wait_for(lk, std::chrono::milliseconds(200), [&] { return !stream->pieces.empty(); });
          pieces.swap(stream->pieces);
        }
        for (const std::string& p : pieces)
          if (!send(stream_chunk(*request, id, model_name, created, p))) {
            std::lock_guard<std::mutex> lk(stream->mu);
            stream->client_gone = true;
            job->cancel = true;
            return false;
          }
        if (pieces.empty() && job->done()) {
          std::lock_guard<std::mutex> lk(stream->mu);
          if (!stream->pieces.empty()) return true;  // the last pieces arrived meanwhile
        } else {
          return true;
        }
        const JobResult& r = job->result();
        send(stream_chunk(*request, id, model_name, created, "", r.finish_reason, &r));
        const char done[] = "data: [DONE]\n\n";
        sink.write(done, sizeof(done) - 1);
        sink.done();
        return true;
      },
      [job, stream](bool) {
        std::lock_guard<std::mutex> lk(stream->mu);
        stream->client_gone = true;
        job->cancel = true;
      });
}

std::string Server::Impl::metrics() const {
  const SchedulerMetrics m = scheduler.metrics();
  const double occupancy = m.steps > 0 ? m.busy_row_steps / double(m.steps) / double(std::max<int64_t>(1, m.max_batch)) : 0;
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, double value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
           std::to_string(value) + "\n";
  };
  metric("steer_http_requests_total", "counter", "HTTP requests answered", double(http_requests));
  metric("steer_http_errors_total", "counter", "HTTP requests answered with a 4xx or 5xx status", double(http_errors));
  metric("steer_requests_total", "counter", "completion requests accepted", double(m.submitted));
  metric("steer_requests_rejected_total", "counter", "completion requests refused (queue full)", double(m.rejected));
  metric("steer_requests_completed_total", "counter", "completion requests finished", double(m.completed));
  metric("steer_requests_cancelled_total", "counter", "completion requests cancelled", double(m.cancelled));
  metric("steer_prompt_tokens_total", "counter", "prompt tokens prefilled", double(m.prompt_tokens));
  metric("steer_generated_tokens_total", "counter", "tokens generated", double(m.generated_tokens));
  metric("steer_decode_steps_total", "counter", "decode steps run", double(m.steps));
  metric("steer_queue_depth", "gauge", "requests waiting for a row", double(m.queue_depth));
  metric("steer_running_requests", "gauge", "requests decoding now", double(m.running));
  metric("steer_batch_occupancy", "gauge", "mean rows per decode step over the maximum batch", occupancy);
  return out;
}

Server::Server(std::shared_ptr<const Model> model, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(model), std::move(options))) {}

Server::~Server() {
  if (running()) stop(0);
}

int Server::start() {
  Impl& s = *impl_;
  if (s.thread.joinable()) fail("server: already started");
  if (s.options.port == 0) {
    s.port = s.http.bind_to_any_port(s.options.host);
    if (s.port < 0) fail("server: cannot bind " + s.options.host + " on any port");
  } else {
    if (!s.http.bind_to_port(s.options.host, s.options.port))
      fail("server: cannot bind " + s.options.host + ":" + std::to_string(s.options.port),
           "is another server using the port? choose another with --port");
    s.port = s.options.port;
  }
  s.accepting = true;
  s.thread = std::thread([&s] { s.http.listen_after_bind(); });
  return s.port;
}

void Server::stop(double grace_s) {
  Impl& s = *impl_;
  s.accepting = false;
  s.scheduler.stop(grace_s);  // running requests finish, then the rest are cancelled
  s.http.stop();              // the open connections end once their handlers return
  if (s.thread.joinable()) s.thread.join();
}

bool Server::running() const { return impl_->thread.joinable() && impl_->accepting; }
int Server::port() const { return impl_->port; }

}  // namespace steer
