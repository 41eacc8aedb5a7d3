// The C++ side of the engine benchmark; bench/peer_transformers.py is the transformers side, on
// the same token ids (bench/prompts_smollm2.json) and the same workload:
//   prefill: 32 prompts × 64 tokens, as one batch of 32 and as four batches of 8
//   decode:  greedy, 64 timed single-token steps with the KV cache, at batch 1 and batch 16
// One dtype per process (so peak RSS is that dtype's). Each measurement runs once after an
// untimed warm-up of the same shape. Prints one JSON object.
//
//   build/bench_engine [--model smollm2-135m] [--dtype f32|bf16] [--threads 2] [--prompts FILE]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "steer/error.h"
#include "steer/model_cache.h"
#include "steer/progress.h"
#include "steer/model.h"

using namespace steer;
using clock_type = std::chrono::steady_clock;

static double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

static double prefill(const Model& m, const std::vector<std::vector<int32_t>>& prompts, int64_t batch) {
  auto t0 = clock_type::now();
  for (size_t i = 0; i < prompts.size(); i += batch) {
    std::vector<std::vector<int32_t>> chunk(prompts.begin() + i, prompts.begin() + std::min(prompts.size(), i + batch));
    BatchState st;
    at::Tensor tokens = make_batch(chunk, m.pad_id(), st);
    m.forward(tokens, st, {nullptr, LogitsMode::kLast});
  }
  return seconds_since(t0);
}

static double decode(const Model& m, const std::vector<std::vector<int32_t>>& prompts, int64_t batch, int steps) {
  std::vector<std::vector<int32_t>> rows(prompts.begin(), prompts.begin() + batch);
  BatchState st;
  at::Tensor tokens = make_batch(rows, m.pad_id(), st);
  m.allocate_cache(st, tokens.size(1) + steps + 1);
  at::Tensor logits = m.forward(tokens, st);
  auto t0 = clock_type::now();
  for (int s = 0; s < steps; ++s) {
    at::Tensor next = logits.argmax(-1).unsqueeze(1);  // [batch, 1]
    logits = m.forward(next, st);
  }
  return seconds_since(t0);
}

int main(int argc, char** argv) {
  std::string model_name = "smollm2-135m", dtype = "auto", prompts_path = STEER_SOURCE_DIR "/bench/prompts_smollm2.json";
  int threads = 2, steps = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--model") model_name = argv[i + 1];
    else if (a == "--dtype") dtype = argv[i + 1];
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--prompts") prompts_path = argv[i + 1];
    else if (a == "--steps") steps = std::atoi(argv[i + 1]);
    else {
      std::cerr << "unknown option " << a << "\n";
      return 1;
    }
  }
  try {
    at::set_num_threads(threads);
    Progress::set_quiet(true);
    std::ifstream in(prompts_path);
    if (!in) throw Error("cannot open " + prompts_path, "run bench/peer_transformers.py --write-prompts");
    nlohmann::json pj = nlohmann::json::parse(in);
    std::vector<std::vector<int32_t>> prompts = pj["ids"].get<std::vector<std::vector<int32_t>>>();
    LoadOptions opt;
    opt.dtype = parse_dtype(dtype);
    opt.progress = false;
    auto t_load = clock_type::now();
    auto m = Model::load(resolve_model_path(model_name), opt);
    double load_s = seconds_since(t_load);
    at::NoGradGuard no_grad;

    int64_t n_tok = 0;
    for (const auto& p : prompts) n_tok += p.size();
    nlohmann::json r;
    r["engine"] = "steer";
    r["model"] = model_name;
    r["dtype"] = dtype_name(m->dtype());
    r["threads"] = threads;
    r["load_seconds"] = load_s;
    for (int64_t b : {int64_t(32), int64_t(8)}) {
      prefill(*m, {prompts.begin(), prompts.begin() + b}, b);  // warm-up
      double s = prefill(*m, prompts, b);
      r["prefill_tokens_per_s_batch" + std::to_string(b)] = n_tok / s;
    }
    for (int64_t b : {int64_t(1), int64_t(16)}) {
      decode(*m, prompts, b, 4);  // warm-up
      double s = decode(*m, prompts, b, steps);
      r["decode_tokens_per_s_batch" + std::to_string(b)] = double(b * steps) / s;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r["peak_rss_mib"] = ru.ru_maxrss / 1024.0;
    std::cout << r.dump(2) << "\n";
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << (e.hint().empty() ? "" : " (hint: " + e.hint() + ")") << "\n";
    return 1;
  }
  return 0;
}
