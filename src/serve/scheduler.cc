#include "serve/scheduler.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <set>

#include "steer/error.h"
#include "steer/tokenizer.h"

namespace steer::serve {

bool Job::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return done_; });
}

bool Job::done() const {
  std::lock_guard<std::mutex> lk(mu_);
  return done_;
}

void Job::finish(JobResult r) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (done_) return;
    result_ = std::move(r);
    done_ = true;
  }
  cv_.notify_all();
}

// A running request: its job, sampler, steering hooks and what it has produced so far.
struct Scheduler::Row {
  std::shared_ptr<Job> job;
  TokenSampler sampler;
  SteeringScope scope;
  JobResult out;
  size_t emitted = 0;  // bytes of the decoded text already handed to on_delta
  size_t hold = 0;     // bytes held back at the end: a stop string could begin there
  Row(std::shared_ptr<Job> j) : job(std::move(j)), sampler(job->sampling) {
    for (const auto& s : job->stop) hold = std::max(hold, s.empty() ? 0 : s.size() - 1);
  }
};

Scheduler::Scheduler(std::shared_ptr<const Model> model, SchedulerOptions options)
    : model_(std::move(model)),
      options_(options),
      runner_(*model_, {std::max(1, options.max_batch)}),
      hooks_(model_->config().n_layers),
      batch_(runner_, &hooks_) {
  if (options_.max_batch < 1) fail("max batch must be ≥ 1, got " + std::to_string(options_.max_batch));
  if (options_.max_queue < 0) fail("max queue must be ≥ 0, got " + std::to_string(options_.max_queue));
  metrics_.max_batch = options_.max_batch;
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  if (thread_.joinable()) stop(0);
}

bool Scheduler::submit(const std::shared_ptr<Job>& job) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    const int64_t free_rows = std::max<int64_t>(0, options_.max_batch - metrics_.running);
    if (stopping_ || int64_t(queue_.size()) >= options_.max_queue + free_rows) {
      ++metrics_.rejected;
      return false;
    }
    job->id = next_id_++;
    job->submitted = std::chrono::steady_clock::now();
    queue_.push_back(job);
    ++metrics_.submitted;
    metrics_.queue_depth = int64_t(queue_.size());
  }
  cv_.notify_all();
  return true;
}

void Scheduler::stop(double grace_s) {
  stopping_ = true;
  cv_.notify_all();
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(std::max(0.0, grace_s));
  {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_until(lk, until, [&] { return queue_.empty() && metrics_.running == 0; });
  }
  cancel_all_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

SchedulerMetrics Scheduler::metrics() const {
  std::lock_guard<std::mutex> lk(mu_);
  return metrics_;
}

void Scheduler::loop() {
  while (true) {
    std::vector<std::shared_ptr<Job>> joiners;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return !queue_.empty() || !rows_.empty() || cancel_all_ || stopping_; });
      if (cancel_all_) {
        for (auto& j : queue_) j->cancel = true;
        for (auto& r : rows_) r->job->cancel = true;
      }
      if (rows_.empty() && queue_.empty() && stopping_) break;
      while (!queue_.empty() && int64_t(rows_.size() + joiners.size()) < options_.max_batch) {
        joiners.push_back(queue_.front());
        queue_.pop_front();
      }
      metrics_.queue_depth = int64_t(queue_.size());
      metrics_.running = int64_t(rows_.size() + joiners.size());
    }
    if (!joiners.empty()) admit(std::move(joiners));
    if (rows_.empty()) {
      std::lock_guard<std::mutex> lk(mu_);
      metrics_.running = 0;
      cv_.notify_all();  // stop() waits for an idle scheduler
      continue;
    }
    sample_and_finish();
    {
      std::lock_guard<std::mutex> lk(mu_);
      metrics_.running = int64_t(rows_.size());
    }
    cv_.notify_all();
  }
  std::lock_guard<std::mutex> lk(mu_);
  metrics_.running = 0;
}

void Scheduler::admit(std::vector<std::shared_ptr<Job>> joiners) {
  std::vector<std::unique_ptr<Row>> rows;
  std::vector<EncodedPrompt> prompts;
  std::vector<int64_t> ids;
  int64_t reserve = 0;
  for (auto& job : joiners) {
    if (job->cancel) {
      JobResult r;
      r.finish_reason = "cancelled";
      job->finish(std::move(r));
      std::lock_guard<std::mutex> lk(mu_);
      ++metrics_.cancelled;
      continue;
    }
    auto row = std::make_unique<Row>(job);
    if (!job->steering.empty()) {
      try {  // checked when the request was parsed; a failure here still must not end the loop
        Steering mine = job->steering;
        row->scope = mine.for_rows({job->id}).attach(hooks_, *model_);
      } catch (const std::exception& e) {
        row->out.finish_reason = "error";
        row->out.error = e.what();
        job->finish(std::move(row->out));
        continue;
      }
    }
    prompts.push_back(job->prompt);
    ids.push_back(job->id);
    reserve = std::max<int64_t>(reserve, job->max_tokens);
    rows.push_back(std::move(row));
  }
  if (rows.empty()) return;
  try {
    at::Tensor first = batch_.join(prompts, ids, reserve);  // [n, vocab]
    logits_ = logits_.defined() && logits_.size(0) > 0 ? at::cat({logits_, first}) : first;
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& p : prompts) metrics_.prompt_tokens += int64_t(p.ids.size());
  } catch (const std::exception& e) {
    for (auto& r : rows) {
      r->out.finish_reason = "error";
      r->out.error = e.what();
      r->job->finish(std::move(r->out));
    }
    return;
  }
  for (auto& r : rows) rows_.push_back(std::move(r));
}

void Scheduler::sample_and_finish() {
  const Tokenizer& tok = model_->tokenizer();
  const std::vector<int32_t>& stop_ids = tok.stop_ids();
  const int64_t n = int64_t(rows_.size());
  const int64_t context = model_->config().context_length;
  at::Tensor greedy = logits_.argmax(-1).to(at::kLong).cpu().contiguous();
  const int64_t* best = greedy.data_ptr<int64_t>();
  // A row whose logits are NaN/inf (steering so strong it overflows) ends in an error; the
  // other rows of the batch go on.
  at::Tensor finite = at::isfinite(logits_).all(-1).cpu().contiguous();
  const bool* row_finite = finite.data_ptr<bool>();
  const auto now = std::chrono::steady_clock::now();

  std::vector<int32_t> next(n);
  std::vector<int64_t> leaving;
  std::vector<char> gone(n, 0);
  int64_t generated = 0;
  for (int64_t b = 0; b < n; ++b) {
    Row& r = *rows_[b];
    Job& job = *r.job;
    auto end = [&](const char* reason) {
      r.out.finish_reason = reason;
      gone[b] = 1;
    };
    if (job.cancel) {
      end("cancelled");
      continue;
    }
    if (now > job.deadline) {
      end("timeout");
      continue;
    }
    if (!row_finite[b]) {
      r.out.error = "the next-token logits are not finite (NaN or inf) after " + std::to_string(r.out.ids.size()) +
                    " tokens: the steering overflows the activations; use a smaller coefficient";
      end("error");
      continue;
    }
    next[b] = job.sampling.greedy() ? int32_t(best[b]) : r.sampler.next(logits_.narrow(0, b, 1), {0})[0];
    const bool eos = std::find(stop_ids.begin(), stop_ids.end(), next[b]) != stop_ids.end();
    if (!eos) {
      if (r.out.ids.empty()) r.out.first_token_s = std::chrono::duration<double>(now - job.submitted).count();
      r.out.ids.push_back(next[b]);
      ++generated;
    }
    std::string text = tok.decode(r.out.ids, /*skip_special=*/true);
    size_t cut = std::string::npos;
    for (const auto& s : job.stop)
      if (!s.empty()) cut = std::min(cut, text.find(s));
    const bool length = int64_t(r.out.ids.size()) >= job.max_tokens ||
                        (context > 0 && int64_t(job.prompt.ids.size() + r.out.ids.size()) >= context);
    if (cut != std::string::npos) {
      text.resize(cut);
      end("stop");
    } else if (eos) {
      end("stop");
    } else if (length) {
      end("length");
    }
    // What can be shown: everything once the row ends; before, not a trailing partial UTF-8
    // character, nor the last bytes a stop string could start with.
    size_t show = text.size();
    if (!gone[b]) {
      show = text.size() > r.hold ? text.size() - r.hold : 0;
      while (show > 0 && show < text.size() && (uint8_t(text[show]) & 0xC0) == 0x80) --show;
      size_t lead = show;  // the start of the last character shown
      while (lead > 0 && (uint8_t(text[lead - 1]) & 0xC0) == 0x80) --lead;
      if (lead > 0) {
        const uint8_t c = uint8_t(text[lead - 1]);
        const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (show - (lead - 1) < need) show = lead - 1;  // cut short: wait for the rest
      }
    }
    if (show > r.emitted && job.on_delta && !job.on_delta(text.substr(r.emitted, show - r.emitted)))
      end("cancelled");
    r.emitted = std::max(r.emitted, show);
    if (gone[b]) r.out.text = text;
  }

  // Rows that ended leave; their hooks go with them.
  std::vector<std::unique_ptr<Row>> kept;
  std::vector<int32_t> kept_next;
  int64_t finished = 0, cancelled = 0;
  for (int64_t b = 0; b < n; ++b) {
    if (!gone[b]) {
      kept.push_back(std::move(rows_[b]));
      kept_next.push_back(next[b]);
      continue;
    }
    Row& r = *rows_[b];
    if (r.out.text.empty() && r.out.finish_reason != "stop") r.out.text = tok.decode(r.out.ids, true);
    leaving.push_back(r.job->id);
    r.scope.reset();
    (r.out.finish_reason == "cancelled" ? cancelled : finished) += 1;
    r.job->finish(std::move(r.out));
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    metrics_.generated_tokens += generated;
    metrics_.completed += finished;
    metrics_.cancelled += cancelled;
  }
  if (!leaving.empty()) batch_.leave(leaving);
  rows_ = std::move(kept);
  if (rows_.empty()) {
    logits_ = at::Tensor();
    return;
  }
  try {
    logits_ = batch_.step(kept_next);
  } catch (const std::exception& e) {
    std::vector<int64_t> all = batch_.ids();
    for (auto& r : rows_) {
      r->out.finish_reason = "error";
      r->out.error = e.what();
      r->job->finish(std::move(r->out));
    }
    rows_.clear();
    batch_.leave(all);
    logits_ = at::Tensor();
    return;
  }
  std::lock_guard<std::mutex> lk(mu_);
  ++metrics_.steps;
  metrics_.busy_row_steps += double(rows_.size());
}

}  // namespace steer::serve
