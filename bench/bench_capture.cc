// Capture throughput, the C++ side; bench/peer_capture.py is the transformers-with-hooks side.
// Workload (issue: steering core): 256 chat-formatted prompts (the project's default harmful and
// harmless sets, first 128 of each), hook_resid_pre of every layer at the last 5 positions,
// float64 running sums, batches of 32. Both sides read the same token ids: this program writes
// them with --write-ids FILE (bench/capture_ids_smollm2.json) and the peer reads that file.
//
//   build/bench/bench_capture [--model smollm2-135m] [--dtype f32|bf16] [--threads 2] [--write-ids FILE]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "steer/error.h"
#include "steer/model_cache.h"
#include "steer/progress.h"
#include "steer/capture.h"
#include "steer/generate.h"
#include "steer/model.h"
#include "steer/prompts.h"

using namespace steer;

int main(int argc, char** argv) {
  std::string model_name = "smollm2-135m", dtype = "auto", write_ids;
  int threads = 2, batch = 32;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--model") model_name = argv[i + 1];
    else if (a == "--dtype") dtype = argv[i + 1];
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--batch") batch = std::atoi(argv[i + 1]);
    else if (a == "--write-ids") write_ids = argv[i + 1];
    else {
      std::cerr << "unknown option " << a << "\n";
      return 1;
    }
  }
  try {
    at::set_num_threads(threads);
    Progress::set_quiet(true);
    LoadOptions opt;
    opt.dtype = parse_dtype(dtype);
    opt.progress = false;
    auto m = Model::load(resolve_model_path(model_name), opt);
    std::vector<EncodedPrompt> prompts;
    auto harmful = default_harmful(), harmless = default_harmless();
    for (size_t i = 0; i < 128; ++i) {
      prompts.push_back(encode_chat_prompt(*m, harmful.items.at(i).instruction));
      prompts.push_back(encode_chat_prompt(*m, harmless.items.at(i).instruction));
    }
    if (!write_ids.empty()) {
      nlohmann::json j;
      j["model"] = model_name;
      j["recipe"] = "default_harmful()[0..127] and default_harmless()[0..127], interleaved, chat-formatted";
      for (const auto& p : prompts) j["ids"].push_back(p.ids);
      std::ofstream(write_ids) << j.dump() << "\n";
    }
    CaptureOptions copt;
    copt.sites = {SiteKind::kResidPre};
    copt.positions = CapturePositions::parse("-5,-4,-3,-2,-1");
    copt.batch_size = batch;
    copt.progress = false;
    capture(*m, {prompts.begin(), prompts.begin() + batch}, copt);  // warm-up
    auto t0 = std::chrono::steady_clock::now();
    Activations acts = capture(*m, prompts, copt);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int64_t tokens = 0;
    for (const auto& p : prompts) tokens += p.ids.size();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    nlohmann::json r = {{"engine", "steer"}, {"model", model_name}, {"dtype", dtype_name(m->dtype())},
                        {"threads", threads}, {"batch", batch}, {"prompts", prompts.size()},
                        {"tokens", tokens}, {"seconds", s}, {"prompts_per_s", prompts.size() / s},
                        {"peak_rss_mib", ru.ru_maxrss / 1024.0}, {"captured_examples", acts.count()}};
    std::cout << r.dump(2) << "\n";
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << (e.hint().empty() ? "" : " (hint: " + e.hint() + ")") << "\n";
    return 1;
  }
  return 0;
}
