// Refusal-direction selection (step 3 of the pipeline, issue 4), the C++ side;
// bench/peer_selection.py is the same scoring written the paper's way (transformers + hooks).
//
// Workload: the default harmful/harmless sets split as the pipeline splits them
// (split_refusal_prompts: 128 + 32 per side, seed 42; no refusal filter, so the workload is a
// fixed 32 + 32 val prompts), candidates r(pos, layer) from refusal_candidates on the train
// prompts, then a SUBSET of candidates scored by select_refusal_direction — bypass (harmful val,
// r̂ ablated everywhere), induce (harmless val, +1·r at hook_resid_pre of its layer) and KL
// (harmless val, baseline ‖ ablated).
//
// How the subset is scored without touching the library: select_refusal_direction takes every
// layer of every position row it is given. The candidate tensor is narrowed to the --positions
// rows, and the rows of the layers not in --layers are zeroed; the function marks a zero
// candidate "nan" and runs no forward pass for it, so the timed call scores exactly the chosen
// candidates (plus its one baseline pass, which every selection makes once). A chosen candidate
// that is zero is refused (every layer-0 one is: see below), since skipping it would flatter
// steer; hence the default layers start at 1. Reported:
//   seconds                the whole select_refusal_direction call (baseline + candidates)
//   baseline_seconds       the same call with every candidate zeroed (baseline pass only)
//   seconds_per_candidate  seconds / candidates scored (the one baseline pass shared among them)
//   marginal_seconds_per_candidate  (seconds − baseline_seconds) / candidates scored
//
// --write-inputs DIR writes what the peer reads: DIR/inputs.json (the val prompts' chat-formatted
// token ids as encode_prompts makes them, the refusal token ids, the candidate list) and
// DIR/directions.safetensors ("directions": [n_candidates, d_model] float64, in the list's order).
//
//   build/bench/bench_selection [--model smollm2-135m] [--dtype f32|bf16] [--threads 2]
//       [--positions -1,-2] [--layers 1,5,10,15,20] [--n-train 128] [--n-val 32] [--batch 32]
//       [--write-inputs DIR]
// --n-train / --n-val use only the first N prompts of each split (for a quick check); the split
// itself is always the 128/32 one.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "steer/error.h"
#include "steer/model_cache.h"
#include "steer/progress.h"
#include "steer/capture.h"
#include "steer/extract.h"
#include "steer/metrics.h"
#include "steer/model.h"
#include "steer/prompts.h"
#include "steer/refusal.h"
#include "steer/safetensors.h"

using namespace steer;

namespace {

std::vector<int64_t> parse_ints(const std::string& text, const std::string& option) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string piece;
  while (std::getline(ss, piece, ',')) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(piece, &used);
    } catch (...) {
      used = 0;
    }
    if (piece.empty() || used != piece.size()) fail(option + ": not an integer list: " + text);
    out.push_back(v);
  }
  if (out.empty()) fail(option + ": empty list");
  return out;
}

std::vector<std::string> first_n(const std::vector<Prompt>& v, size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size() && i < n; ++i) out.push_back(v[i].instruction);
  return out;
}

nlohmann::json ids_json(const std::vector<EncodedPrompt>& prompts) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& p : prompts) j.push_back(p.ids);
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_name = "smollm2-135m", dtype = "auto", write_inputs;
  std::string positions_arg = "-1,-2", layers_arg = "1,5,10,15,20";
  int threads = 2, batch = 32;
  size_t n_train = 128, n_val = 32;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--model") model_name = argv[i + 1];
    else if (a == "--dtype") dtype = argv[i + 1];
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--batch") batch = std::atoi(argv[i + 1]);
    else if (a == "--positions") positions_arg = argv[i + 1];
    else if (a == "--layers") layers_arg = argv[i + 1];
    else if (a == "--n-train") n_train = std::strtoul(argv[i + 1], nullptr, 10);
    else if (a == "--n-val") n_val = std::strtoul(argv[i + 1], nullptr, 10);
    else if (a == "--write-inputs") write_inputs = argv[i + 1];
    else {
      std::cerr << "unknown option " << a << "\n";
      return 1;
    }
  }
  if (argc % 2 == 0) {
    std::cerr << "option " << argv[argc - 1] << " needs a value\n";
    return 1;
  }
  try {
    at::set_num_threads(threads);
    Progress::set_quiet(true);
    LoadOptions opt;
    opt.dtype = parse_dtype(dtype);
    opt.progress = false;
    auto m = Model::load(resolve_model_path(model_name), opt);
    const int n_layers = m->config().n_layers;
    const int64_t d_model = m->config().d_model;

    RefusalSplits s = split_refusal_prompts(default_harmful(), default_harmless(), 128, 32, 42);
    std::vector<EncodedPrompt> harmful_val = encode_prompts(*m, first_n(s.harmful_val, n_val));
    std::vector<EncodedPrompt> harmless_val = encode_prompts(*m, first_n(s.harmless_val, n_val));
    const std::vector<int32_t> refusal_tokens = refusal_tokens_for(*m);

    auto t_cand = std::chrono::steady_clock::now();
    RefusalCandidates all = refusal_candidates(*m, first_n(s.harmful_train, n_train),
                                               first_n(s.harmless_train, n_train), batch, false);
    double cand_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_cand).count();

    // The subset: the chosen position rows, every layer, the layers not chosen zeroed.
    std::vector<int64_t> rows;
    std::vector<int64_t> want_pos = parse_ints(positions_arg, "--positions");
    for (int64_t p : want_pos) {
      auto it = std::find(all.positions.begin(), all.positions.end(), p);
      if (it == all.positions.end())
        fail("--positions: " + std::to_string(p) + " is not a candidate position (the template tail has " +
             std::to_string(all.positions.size()) + " tokens)");
      rows.push_back(it - all.positions.begin());
    }
    std::set<int64_t> want_layers;
    for (int64_t l : parse_ints(layers_arg, "--layers")) {
      if (l < 0 || l >= n_layers) fail("--layers: " + std::to_string(l) + " is not below " + std::to_string(n_layers));
      want_layers.insert(l);
    }
    RefusalCandidates sub;
    sub.positions.clear();
    sub.directions = at::zeros({int64_t(rows.size()), n_layers, d_model}, at::kDouble);
    for (size_t i = 0; i < rows.size(); ++i) {
      sub.positions.push_back(all.positions[rows[i]]);
      for (int64_t l : want_layers) {
        at::Tensor r = all.directions[rows[i]][l];
        // select_refusal_direction skips (marks "nan") a zero or non-finite candidate without a
        // forward pass, so timing one would flatter steer. Layer 0's input is the token
        // embedding, and the template's tail tokens are the same in every prompt: zero there.
        if (!at::isfinite(r).all().item<bool>() || r.norm().item<double>() == 0)
          fail("candidate (position " + std::to_string(all.positions[rows[i]]) + ", layer " + std::to_string(l) +
                   ") is zero or not finite, so select_refusal_direction would not score it",
               "layer 0 reads the token embeddings, and the chat template's tail is the same tokens in every "
               "prompt, so every layer-0 candidate is zero; choose layers >= 1");
        sub.directions[i][l].copy_(r);
      }
    }
    RefusalCandidates none = sub;
    none.directions = at::zeros_like(sub.directions);

    RefusalSelectionOptions so;
    so.batch_size = batch;
    so.progress = false;
    so.score_pruned_layers = true;  // the chosen layers are scored whatever the prune fraction

    if (!write_inputs.empty()) {
      std::filesystem::create_directories(write_inputs);
      nlohmann::json j;
      j["model"] = model_name;
      j["recipe"] =
          "split_refusal_prompts(default_harmful(), default_harmless(), 128, 32, 42), first " + std::to_string(n_val) +
          " val prompts per side, chat-formatted by encode_prompts; candidates from refusal_candidates on the first " +
          std::to_string(n_train) + " train prompts per side";
      j["harmful_val_ids"] = ids_json(harmful_val);
      j["harmless_val_ids"] = ids_json(harmless_val);
      j["refusal_tokens"] = refusal_tokens;
      j["n_layers"] = n_layers;
      j["candidates"] = nlohmann::json::array();
      std::vector<double> flat;
      for (size_t i = 0; i < rows.size(); ++i)
        for (int64_t l : want_layers) {
          j["candidates"].push_back({{"position", sub.positions[i]}, {"layer", l}});
          at::Tensor r = all.directions[rows[i]][l].contiguous();
          flat.insert(flat.end(), r.data_ptr<double>(), r.data_ptr<double>() + d_model);
        }
      j["directions_file"] = "directions.safetensors";
      std::vector<uint8_t> bytes(flat.size() * sizeof(double));
      std::memcpy(bytes.data(), flat.data(), bytes.size());
      SafetensorsWriter w;
      w.set_metadata("candidates", j["candidates"].dump());
      w.add_tensor("directions", SafetensorsDType::F64, {int64_t(j["candidates"].size()), d_model}, std::move(bytes));
      w.write(write_inputs + "/directions.safetensors");
      std::ofstream(write_inputs + "/inputs.json") << j.dump() << "\n";
    }

    select_refusal_direction(*m, none, harmful_val, harmless_val, refusal_tokens, so);  // warm-up
    RefusalSelection base = select_refusal_direction(*m, none, harmful_val, harmless_val, refusal_tokens, so);
    auto t0 = std::chrono::steady_clock::now();
    RefusalSelection sel = select_refusal_direction(*m, sub, harmful_val, harmless_val, refusal_tokens, so);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    nlohmann::json cands = nlohmann::json::array();
    auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
    for (const auto& c : sel.candidates)
      if (want_layers.count(c.layer))
        cands.push_back({{"position", c.position}, {"layer", c.layer}, {"bypass", num(c.bypass)},
                         {"induce", num(c.induce)}, {"kl", num(c.kl)}});
    const double n = double(cands.size());
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    nlohmann::json r = {{"engine", "steer"},
                        {"model", model_name},
                        {"dtype", dtype_name(m->dtype())},
                        {"threads", threads},
                        {"batch", batch},
                        {"n_harmful_val", harmful_val.size()},
                        {"n_harmless_val", harmless_val.size()},
                        {"n_train", std::min(n_train, s.harmful_train.size())},
                        {"candidates_scored", cands.size()},
                        {"seconds", secs},
                        {"baseline_seconds", base.seconds},
                        {"seconds_per_candidate", secs / n},
                        {"marginal_seconds_per_candidate", (secs - base.seconds) / n},
                        {"candidates_seconds", cand_s},
                        {"baseline_harmful", num(sel.baseline_harmful)},
                        {"baseline_harmless", num(sel.baseline_harmless)},
                        {"peak_rss_mib", ru.ru_maxrss / 1024.0},
                        {"candidates", cands}};
    std::cout << r.dump(2) << "\n";
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << (e.hint().empty() ? "" : " (hint: " + e.hint() + ")") << "\n";
    return 1;
  }
  return 0;
}
