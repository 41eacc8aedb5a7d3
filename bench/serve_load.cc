// Load test for `steer serve` on loopback: N concurrent streaming clients for a fixed time, each
// sending chat requests with one of three steerings (none, +c·v, −c·v) over a few prompts, with
// temperature 0. Before the timed runs every (prompt, steering) is asked once alone; under load
// each answer must equal that reference — so nothing lost, nothing corrupted, no cross-talk
// between rows steered differently. Prints one JSON object per concurrency level: requests/s,
// latency and time-to-first-token percentiles, generated tokens/s, errors, mismatches; with
// --soak-seconds also the server's RSS sampled every 5 s (from /proc/PID/status).
//
//   build/bench/serve_load --port 8080 --vector caa --concurrency 1,4,16,32 --seconds 30
//   build/bench/serve_load --port 8080 --vector caa --soak-seconds 600 --soak-concurrency 16 --pid PID
//
// Bounded: every client stops at its deadline, every request has a read timeout.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string vector;  // the steering vector's name on the server; empty: unsteered only
  double coefficient = 4;
  std::vector<int> concurrency = {1, 4, 16, 32};
  double seconds = 30;
  int max_tokens = 32;
  double soak_seconds = 0;
  int soak_concurrency = 16;
  long pid = 0;
};

const std::vector<std::string> kPrompts = {
    "Name three colours.", "What is a fjord?", "Write a haiku about rain.", "How do I boil an egg?",
    "Give me a tip for learning to juggle.", "What does a librarian do?", "Describe a sunset in one sentence.",
    "Why is the sky blue?"};

struct Kind {
  std::string prompt;
  json steering;  // null: none
};

std::vector<Kind> kinds(const Options& o) {
  std::vector<Kind> out;
  for (const auto& p : kPrompts) {
    out.push_back({p, nullptr});
    if (o.vector.empty()) continue;
    for (double c : {o.coefficient, -o.coefficient})
      out.push_back({p, {{"add", json::array({{{"vector", o.vector}, {"coefficient", c}}})}}});
  }
  return out;
}

struct Answer {
  bool ok = false;
  std::string text, error;
  int tokens = 0;
  double latency_s = 0, ttft_s = 0;
};

Answer ask(const Options& o, const Kind& k) {
  json body = {{"messages", json::array({{{"role", "user"}, {"content", k.prompt}}})},
               {"max_tokens", o.max_tokens}, {"temperature", 0}, {"stream", true}};
  if (!k.steering.is_null()) body["steering"] = k.steering;
  httplib::Client c(o.host, o.port);
  c.set_read_timeout(120, 0);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  Answer a;
  std::string buf;
  bool done = false;
  const auto t0 = Clock::now();
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    buf.append(data, n);
    size_t cut;
    while ((cut = buf.find("\n\n")) != std::string::npos) {
      std::string line = buf.substr(0, cut);
      buf.erase(0, cut + 2);
      if (line.rfind("data: ", 0) != 0) continue;
      std::string d = line.substr(6);
      if (d == "[DONE]") {
        done = true;
        continue;
      }
      json chunk = json::parse(d, nullptr, false);
      if (chunk.is_discarded()) continue;
      const json& ch = chunk["choices"][0];
      if (ch.contains("delta") && ch["delta"].contains("content")) {
        if (a.text.empty()) a.ttft_s = std::chrono::duration<double>(Clock::now() - t0).count();
        a.text += ch["delta"]["content"].get<std::string>();
      }
      if (chunk.contains("usage")) a.tokens = chunk["usage"]["completion_tokens"].get<int>();
    }
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  bool sent = c.send(req, res, err);
  a.latency_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!sent) a.error = "no response (" + httplib::to_string(err) + ")";
  else if (res.status != 200) a.error = "HTTP " + std::to_string(res.status);
  else if (!done) a.error = "stream ended without [DONE]";
  a.ok = a.error.empty();
  return a;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(q * double(v.size() - 1) + 0.5))];
}

long rss_kb(long pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

json run_level(const Options& o, const std::vector<Kind>& ks, const std::vector<std::string>& want, int clients,
               double seconds, bool sample_rss) {
  std::mutex mu;
  std::vector<double> latency, ttft;
  int64_t ok = 0, errors = 0, mismatches = 0, tokens = 0;
  std::map<std::string, int64_t> error_kinds;
  std::atomic<int64_t> next{0};
  const auto t0 = Clock::now();
  const auto until = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&] {
      while (Clock::now() < until) {
        const size_t i = size_t(next++) % ks.size();
        Answer a = ask(o, ks[i]);
        std::lock_guard<std::mutex> lk(mu);
        if (!a.ok) {
          ++errors;
          ++error_kinds[a.error];
          // When and after how long: a failure at a round number of seconds points at a timeout.
          std::fprintf(stderr, "serve_load: request failed at t=%.1f s after %.2f s (ttft %.2f s): %s\n",
                       std::chrono::duration<double>(Clock::now() - t0).count(), a.latency_s, a.ttft_s,
                       a.error.c_str());
          continue;
        }
        ++ok;
        tokens += a.tokens;
        latency.push_back(a.latency_s);
        ttft.push_back(a.ttft_s);
        if (a.text != want[i]) ++mismatches;
      }
    });
  std::vector<long> rss;
  if (sample_rss && o.pid > 0)
    while (Clock::now() < until) {
      rss.push_back(rss_kb(o.pid));
      std::this_thread::sleep_for(std::chrono::seconds(5));
    }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  json out = {{"clients", clients},
              {"seconds", elapsed},
              {"requests", ok},
              {"errors", errors},
              {"error_kinds", error_kinds},
              {"mismatches", mismatches},
              {"requests_per_s", double(ok) / elapsed},
              {"generated_tokens_per_s", double(tokens) / elapsed},
              {"latency_p50_s", percentile(latency, 0.5)},
              {"latency_p99_s", percentile(latency, 0.99)},
              {"ttft_p50_s", percentile(ttft, 0.5)},
              {"ttft_p99_s", percentile(ttft, 0.99)}};
  if (!rss.empty()) {
    out["rss_kb_samples"] = rss;
    out["rss_kb_first"] = rss.front();
    out["rss_kb_last"] = rss.back();
    out["rss_kb_max"] = *std::max_element(rss.begin(), rss.end());
  }
  return out;
}

std::vector<int> int_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stoi(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--host") o.host = v;
    else if (k == "--port") o.port = std::stoi(v);
    else if (k == "--vector") o.vector = v;
    else if (k == "--coefficient") o.coefficient = std::stod(v);
    else if (k == "--concurrency") o.concurrency = int_list(v);
    else if (k == "--seconds") o.seconds = std::stod(v);
    else if (k == "--max-tokens") o.max_tokens = std::stoi(v);
    else if (k == "--soak-seconds") o.soak_seconds = std::stod(v);
    else if (k == "--soak-concurrency") o.soak_concurrency = std::stoi(v);
    else if (k == "--pid") o.pid = std::stol(v);
    else {
      std::fprintf(stderr, "serve_load: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  const std::vector<Kind> ks = kinds(o);
  std::vector<std::string> want;
  for (const Kind& k : ks) {  // the references: each request alone
    Answer a = ask(o, k);
    if (!a.ok) {
      std::fprintf(stderr, "serve_load: reference request failed: %s\n", a.error.c_str());
      return 1;
    }
    want.push_back(a.text);
  }
  int distinct = 0;
  for (size_t i = 0; i < ks.size(); i += 3)
    if (!o.vector.empty() && i + 1 < ks.size() && want[i + 1] != want[i]) ++distinct;
  std::printf("%s\n", json({{"references", ks.size()}, {"prompts_whose_steered_answer_differs", distinct}}).dump().c_str());
  for (int c : o.concurrency) std::printf("%s\n", run_level(o, ks, want, c, o.seconds, false).dump().c_str());
  if (o.soak_seconds > 0) {
    json soak = run_level(o, ks, want, o.soak_concurrency, o.soak_seconds, true);
    soak["soak"] = true;
    std::printf("%s\n", soak.dump().c_str());
  }
  return 0;
}
