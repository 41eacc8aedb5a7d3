// The server's decode loop: continuous batching of requests with per-request steering.
//
// One thread owns the model's DecodeBatch (steer/runner.h). Between decode steps it admits
// waiting requests (up to max_batch rows: their prompts are prefilled and join the batch), and
// rows that finished — end of turn, a stop string, max tokens, the context, a client that went
// away, a deadline — leave it. Each request's steering is attached once, for its row id only
// (Steering::for_rows), into one HookSet that every step runs, so requests with different
// steering decode in the same batch and an unsteered row is computed as if it ran alone. A
// shared KV-cache prefix is only made while no per-row hook is attached (the runner's rule).
//
// Threads: submit/stop/metrics may be called from any thread; a job's on_delta runs on the
// decode thread and must not block for long.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "steer/generate.h"
#include "steer/interventions.h"

namespace steer::serve {

struct JobResult {
  std::vector<int32_t> ids;   // generated tokens (a final end-of-turn token not included)
  std::string text;           // decoded, cut before a stop string
  // "stop" (end of turn or a stop string), "length" (max tokens or the context), "cancelled"
  // (the client went away or the server shut down), "timeout", "error"
  std::string finish_reason;
  std::string error;          // finish_reason "error": what went wrong
  double first_token_s = 0;   // from submit to the first generated token
};

struct Job {
  // The request (fixed once submitted).
  EncodedPrompt prompt;
  int max_tokens = 16;
  SamplingOptions sampling;
  std::vector<std::string> stop;
  Steering steering;  // empty: unsteered
  // Streaming: called on the decode thread with each new piece of text (complete UTF-8, never
  // a piece of a stop string); false means the client went away and cancels the job.
  std::function<bool(const std::string&)> on_delta;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();

  // Set by the scheduler.
  int64_t id = -1;
  std::chrono::steady_clock::time_point submitted;
  std::atomic<bool> cancel{false};  // anyone may set it; the job ends at the next step

  // Blocks until the job is done (or `timeout`); true if done.
  bool wait_for(std::chrono::milliseconds timeout);
  bool done() const;
  const JobResult& result() const { return result_; }  // after done

 private:
  friend class Scheduler;
  void finish(JobResult r);
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  JobResult result_;
};

struct SchedulerOptions {
  int max_batch = 16;  // rows decoded together
  int max_queue = 64;  // requests waiting beyond those; more are refused
};

struct SchedulerMetrics {
  int64_t submitted = 0, rejected = 0, completed = 0, cancelled = 0;
  int64_t prompt_tokens = 0, generated_tokens = 0, steps = 0;
  int64_t queue_depth = 0, running = 0, max_batch = 0;
  double busy_row_steps = 0;  // Σ rows over steps: mean occupancy = busy_row_steps / steps / max_batch
};

class Scheduler {
 public:
  Scheduler(std::shared_ptr<const Model> model, SchedulerOptions options);
  ~Scheduler();  // stops at once (stop(0)) if stop was not called

  // Queues a job; false (and the job untouched) when the queue is full or the scheduler stops.
  bool submit(const std::shared_ptr<Job>& job);
  // Stops admitting; waits up to grace_s for queued and running jobs to finish, then cancels
  // the rest; returns when the decode thread has ended.
  void stop(double grace_s);
  bool stopping() const { return stopping_; }
  SchedulerMetrics metrics() const;
  const Model& model() const { return *model_; }

 private:
  struct Row;
  void loop();
  void admit(std::vector<std::shared_ptr<Job>> joiners);
  void sample_and_finish();

  std::shared_ptr<const Model> model_;
  SchedulerOptions options_;
  Runner runner_;
  HookSet hooks_;
  DecodeBatch batch_;
  std::vector<std::unique_ptr<Row>> rows_;  // running, in batch_.ids() order
  at::Tensor logits_;                       // [rows, vocab]: next-token logits of rows_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::atomic<bool> stopping_{false}, cancel_all_{false};
  int64_t next_id_ = 0;
  SchedulerMetrics metrics_;
  std::thread thread_;
};

}  // namespace steer::serve
