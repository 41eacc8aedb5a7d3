// What steering costs during decoding: greedy decode tokens/s with no intervention, with an Add
// at one layer (CAA: hook_resid_post of layer 10, after-instruction positions — every decode
// token), and with an ablation at every layer (Arditi: 3 hooks × n_layers), on the same prompts
// (bench/prompts_smollm2.json, 64 tokens each) at batch 1 and 16, in f32 and bf16. At batch 16
// it also times an Add limited to one row (the per-request case: a mask and a select per step).
// Beside the end-to-end figures it times one hook call alone (µs per site per decode step), which
// is what the ratios come from and is far less sensitive to other load on the machine.
//
// The configurations are interleaved (none, add, ablate, none, add, ...) `reps` times after one
// untimed warm-up each, so drift and other load on the machine hit them alike; each figure is
// the best of the reps (least disturbed), and the median is printed too. Prints one JSON object
// whose ratios are steered/unsteered tokens/s.
//
//   build/bench_steering [--model smollm2-135m] [--threads 2] [--steps 32] [--reps 5] [--dtypes f32,bf16]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "steer/error.h"
#include "steer/model_cache.h"
#include "steer/progress.h"
#include "steer/interventions.h"
#include "steer/model.h"

using namespace steer;
using clock_type = std::chrono::steady_clock;

namespace {

// Seconds for `steps` greedy decode steps after an untimed prefill of `rows`.
double decode_seconds(const Model& m, const std::vector<std::vector<int32_t>>& rows, int steps,
                      const HookSet* hooks) {
  BatchState st;
  at::Tensor tokens = make_batch(rows, m.pad_id(), st);
  m.allocate_cache(st, tokens.size(1) + steps + 1);
  at::Tensor logits = m.forward(tokens, st, {hooks});
  auto t0 = clock_type::now();
  for (int s = 0; s < steps; ++s) {
    at::Tensor next = logits.argmax(-1).unsqueeze(1);  // [batch, 1]
    logits = m.forward(next, st, {hooks});
  }
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Microseconds per call of the hooks attached at (kind, layer), on a decode-step activation
// [batch, 1, d_model] — the cost a decode step pays per site, without the rest of the forward.
double hook_microseconds(const Model& m, const HookSet& hooks, SiteKind kind, int layer, int64_t batch) {
  BatchState st;
  st.batch = batch;
  st.pad.assign(batch, 0);
  st.prompt_len.assign(batch, 64);
  st.instruction_end.assign(batch, 60);
  st.length = 64;
  HookContext ctx{Site{kind, layer}, &st, slot_positions(st, 1), false};
  at::Tensor x0 = at::randn({batch, 1, m.config().d_model}).to(m.weights().embed.scalar_type());
  const int calls = 2000;
  for (int i = 0; i < 100; ++i) {
    at::Tensor x = x0;
    hooks.run(kind, layer, x, ctx);
  }
  auto t0 = clock_type::now();
  for (int i = 0; i < calls; ++i) {
    at::Tensor x = x0;
    hooks.run(kind, layer, x, ctx);
  }
  return 1e6 * std::chrono::duration<double>(clock_type::now() - t0).count() / calls;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_name = "smollm2-135m", dtypes = "f32,bf16",
              prompts_path = STEER_SOURCE_DIR "/bench/prompts_smollm2.json";
  int threads = 2, steps = 32, reps = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--model") model_name = argv[i + 1];
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--steps") steps = std::atoi(argv[i + 1]);
    else if (a == "--reps") reps = std::atoi(argv[i + 1]);
    else if (a == "--dtypes") dtypes = argv[i + 1];
    else if (a == "--prompts") prompts_path = argv[i + 1];
    else {
      std::cerr << "unknown option " << a << "\n";
      return 1;
    }
  }
  try {
    if (steps < 1 || reps < 1) fail("--steps and --reps must be ≥ 1");
    at::set_num_threads(threads);
    Progress::set_quiet(true);
    std::ifstream in(prompts_path);
    if (!in) fail("cannot open " + prompts_path);
    auto prompts = nlohmann::json::parse(in)["ids"].get<std::vector<std::vector<int32_t>>>();
    if (prompts.size() < 16) fail(prompts_path + ": need 16 prompts");

    nlohmann::json out;
    out["model"] = model_name;
    out["threads"] = threads;
    out["steps"] = steps;
    out["reps"] = reps;
    out["add"] = "one vector, hook_resid_post of layer 10, after-instruction positions";
    out["ablate"] = "one direction, hook_resid_pre + hook_attn_out + hook_mlp_out of every layer";
    out["results"] = nlohmann::json::array();

    std::stringstream dts(dtypes);
    for (std::string dt; std::getline(dts, dt, ',');) {
      LoadOptions opt;
      opt.dtype = parse_dtype(dt);
      opt.progress = false;
      auto m = Model::load(resolve_model_path(model_name), opt);
      const int L = m->config().n_layers;
      const int64_t d = m->config().d_model;
      auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
      at::Tensor v = at::randn({d}, gen, at::kFloat);
      at::Tensor r = at::randn({d}, gen, at::kFloat);

      HookSet none(L), add(L), ablate(L), add_row(L);
      Steering s_add, s_ablate, s_add_row;
      s_add.add(v, 4.f, {std::min(10, L - 1)}, PositionSelector::after_instruction());
      s_ablate.ablate(r);
      s_add_row.add(v, 4.f, {std::min(10, L - 1)}, PositionSelector::after_instruction()).for_rows({0});
      SteeringScope a1 = s_add.attach(add, *m), a2 = s_ablate.attach(ablate, *m), a3 = s_add_row.attach(add_row, *m);

      for (int64_t batch : {int64_t(1), int64_t(16)}) {
        std::vector<std::vector<int32_t>> rows(prompts.begin(), prompts.begin() + batch);
        std::vector<std::pair<std::string, const HookSet*>> configs = {
            {"unsteered", &none}, {"add", &add}, {"ablate", &ablate}};
        if (batch > 1) configs.push_back({"add_one_row", &add_row});
        std::map<std::string, std::vector<double>> times;
        for (const auto& [name, hs] : configs) decode_seconds(*m, rows, 4, hs);  // warm-up
        for (int rep = 0; rep < reps; ++rep)
          for (const auto& [name, hs] : configs) times[name].push_back(decode_seconds(*m, rows, steps, hs));

        nlohmann::json row;
        row["dtype"] = dtype_name(m->dtype());
        row["batch"] = batch;
        const double tokens = double(batch * steps);
        const double base_best = *std::min_element(times["unsteered"].begin(), times["unsteered"].end());
        const double base_median = median(times["unsteered"]);
        // Per-site hook cost (one site each: the add's layer; an ablation site of 3·n_layers).
        row["add_hook_us"] = hook_microseconds(*m, add, SiteKind::kResidPost, std::min(10, L - 1), batch);
        row["ablate_hook_us"] = hook_microseconds(*m, ablate, SiteKind::kAttnOut, L / 2, batch);
        row["ablate_sites"] = 3 * L;
        for (const auto& [name, hs] : configs) {
          double best = *std::min_element(times[name].begin(), times[name].end());
          double med = median(times[name]);
          row[name + "_tokens_per_s"] = tokens / best;
          row[name + "_tokens_per_s_median"] = tokens / med;
          if (name != "unsteered") {
            row[name + "_ratio"] = base_best / best;
            row[name + "_ratio_median"] = base_median / med;
          }
        }
        out["results"].push_back(row);
        std::cerr << row.dump() << "\n";
      }
    }
    std::cout << out.dump(2) << "\n";
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << (e.hint().empty() ? "" : " (hint: " + e.hint() + ")") << "\n";
    return 1;
  }
  return 0;
}
