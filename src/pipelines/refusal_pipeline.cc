// The refusal-direction pipeline, steps 1–4 in order (see steer/refusal.h), writing a run
// folder that holds everything it found: the selected direction (safetensors and llama.cpp
// control-vector GGUF), the full candidate table (CSV + JSON), the three selection plots (SVG),
// metadata.json (prompts kept, refusal tokens, selected candidate, timings) and the evaluation.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <set>

#include "core/blas_kernels.h"
#include "core/cpu.h"
#include "steer/error.h"
#include "core/heap.h"
#include "generate/prompt_batches.h"
#include "models/linear.h"
#include "pipelines/refusal_report.h"
#include "steer/capture.h"
#include "steer/directions.h"
#include "steer/metrics.h"
#include "steer/refusal.h"
#include "steer/tokenizer.h"
#include "io/run_folder.h"
#include "steer/outputs.h"

namespace steer {

namespace {

// The prompts of `pool` not used for train or val, in file order, at most n.
std::vector<Prompt> leftover(const PromptSet& pool, const std::vector<Prompt>& a, const std::vector<Prompt>& b,
                             size_t n) {
  std::set<std::string> used;
  for (const auto* v : {&a, &b})
    for (const auto& p : *v) used.insert(p.instruction);
  std::vector<Prompt> out;
  for (const auto& p : pool.items)
    if (!used.count(p.instruction) && out.size() < n) out.push_back(p);
  return out;
}

std::vector<std::string> texts(const std::vector<Prompt>& v) {
  std::vector<std::string> out;
  for (const auto& p : v) out.push_back(p.instruction);
  return out;
}

// The paper's filter: keep harmful prompts the model refuses (score > 0), harmless ones it does
// not (score < 0). Returns the kept prompts; `scores` gets every prompt's score.
std::vector<Prompt> keep_by_score(const Model& model, const std::vector<Prompt>& prompts, bool harmful,
                                  const std::vector<int32_t>& refusal_tokens, int batch_size,
                                  std::vector<double>* scores) {
  PromptBatches batches(model, encode_prompts(model, texts(prompts)), batch_size);
  at::Tensor s = refusal_score(batches.last_logits(), refusal_tokens);
  std::vector<Prompt> kept;
  for (size_t i = 0; i < prompts.size(); ++i) {
    double v = s[i].item<double>();
    scores->push_back(v);
    if (harmful ? v > 0 : v < 0) kept.push_back(prompts[i]);
  }
  return kept;
}

}  // namespace

RefusalRun compute_refusal_run(const Model& model, const RefusalPipelineOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  auto seconds_since = [](auto t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  if (!model.has_chat_template())
    fail("refusal: " + model.path() + " has no chat template",
         "the refusal direction is read at the chat template's post-instruction tokens; pass --chat-template FILE");

  const PromptSet harmful = o.harmful.items.empty() ? default_harmful() : o.harmful;
  const PromptSet harmless = o.harmless.items.empty() ? default_harmless() : o.harmless;
  RefusalSplits s = split_refusal_prompts(harmful, harmless, o.n_train, o.n_val, o.seed);
  std::vector<Prompt> harmful_test = o.harmful_test ? leftover(*o.harmful_test, {}, {}, o.n_test)
                                                    : leftover(harmful, s.harmful_train, s.harmful_val, o.n_test);
  std::vector<Prompt> harmless_test = o.harmless_test ? leftover(*o.harmless_test, {}, {}, o.n_test)
                                                      : leftover(harmless, s.harmless_train, s.harmless_val, o.n_test);
  const std::vector<int32_t> refusal_tokens =
      o.refusal_tokens.empty() ? refusal_tokens_for(model) : parse_refusal_tokens(model, o.refusal_tokens);

  RefusalRun run;
  run.n_layers = model.config().n_layers;
  nlohmann::json& meta = run.metadata;
  meta["model"] = {{"path", model.path()}, {"config", model.config().describe()}, {"dtype", dtype_name(model.dtype())}};
  nlohmann::json tokens = nlohmann::json::array();
  for (int32_t id : refusal_tokens) tokens.push_back({{"id", id}, {"text", model.tokenizer().decode({id}, false)}});
  meta["refusal_tokens"] = tokens;
  // Timings mean little without the machine they came from (and a thread count of 1 once hid a bug).
  meta["machine"] = {{"cpu", cpu_summary()}, {"threads", at::get_num_threads()}, {"blas", fix_blas_kernels().summary()},
                     {"float32_linear", float32_linear_backend()}, {"heap", keep_freed_memory()}};
  meta["datasets"] = {{"harmful", {{"path", harmful.path}, {"sha256", harmful.sha256}, {"size", harmful.size()}}},
                      {"harmless", {{"path", harmless.path}, {"sha256", harmless.sha256}, {"size", harmless.size()}}}};
  if (o.harmful_test) meta["datasets"]["harmful_test"] = {{"path", o.harmful_test->path}, {"sha256", o.harmful_test->sha256}};
  if (o.harmless_test) meta["datasets"]["harmless_test"] = {{"path", o.harmless_test->path}, {"sha256", o.harmless_test->sha256}};
  meta["seed"] = o.seed;
  if (!o.note.empty()) meta["note"] = o.note;

  // 1. filter
  auto t_filter = std::chrono::steady_clock::now();
  nlohmann::json counts;
  auto filter = [&](std::vector<Prompt>& v, bool is_harmful, const char* name) {
    counts[name]["sampled"] = v.size();
    if (!o.filter) return;
    std::vector<double> scores;
    std::vector<Prompt> kept = keep_by_score(model, v, is_harmful, refusal_tokens, o.batch_size, &scores);
    counts[name]["kept"] = kept.size();
    if (kept.size() >= o.min_kept) {
      v = std::move(kept);
      return;
    }
    std::string what = "only " + std::to_string(kept.size()) + " of " + std::to_string(v.size()) + " " + name +
                       " prompts pass the refusal filter (" + (is_harmful ? "score > 0" : "score < 0") + ")";
    std::string why = "this model " + std::string(is_harmful ? "rarely refuses" : "often refuses") +
                      " at the first token";
    if (o.strict_filter) fail("refusal: " + what, why + "; run with --no-filter, or choose other --refusal-tokens");
    counts[name]["kept"] = v.size();
    counts[name]["filter_skipped"] = what + ": " + why + "; using all " + std::to_string(v.size());
    if (o.progress) std::cerr << "warning: " << what << " — " << why << "; using all " << v.size() << "\n";
  };
  filter(s.harmful_train, true, "harmful_train");
  filter(s.harmless_train, false, "harmless_train");
  filter(s.harmful_val, true, "harmful_val");
  filter(s.harmless_val, false, "harmless_val");
  meta["prompts"] = counts;
  meta["prompts"]["harmful_test"] = harmful_test.size();
  meta["prompts"]["harmless_test"] = harmless_test.size();
  meta["filter"] = o.filter;
  meta["timings"]["filter_seconds"] = seconds_since(t_filter);

  // 2. candidates
  auto t_cand = std::chrono::steady_clock::now();
  RefusalCandidates cand =
      refusal_candidates(model, texts(s.harmful_train), texts(s.harmless_train), o.batch_size, o.progress);
  meta["timings"]["candidates_seconds"] = seconds_since(t_cand);

  // 3. selection
  RefusalSelectionOptions so = o.selection;
  so.progress = o.progress;
  so.batch_size = o.batch_size;
  run.selection = select_refusal_direction(model, cand, encode_prompts(model, texts(s.harmful_val)),
                                           encode_prompts(model, texts(s.harmless_val)), refusal_tokens, so);
  meta["timings"]["selection_seconds"] = run.selection.seconds;
  meta["selection"] = {{"prune_layer_fraction", so.prune_layer_fraction},
                       {"kl_threshold", so.kl_threshold},
                       {"induce_threshold", so.induce_threshold},
                       {"baseline_harmful", run.selection.baseline_harmful},
                       {"baseline_harmless", run.selection.baseline_harmless}};
  if (run.selection.best < 0) {
    meta["selected"] = nullptr;
    meta["timings"]["total_seconds"] = seconds_since(t0);
    return run;
  }
  const CandidateScore& best = run.selection.candidates[run.selection.best];
  meta["selected"] = {{"position", best.position}, {"layer", best.layer}, {"bypass", best.bypass},
                      {"induce", best.induce},     {"kl", best.kl}};
  if (!run.selection.fallback.empty()) meta["selected"]["fallback"] = run.selection.fallback;

  DirectionSet& dir = run.direction;
  dir = cand.at_position(best.position).only_layers({best.layer});
  dir.meta().extra["selected"] = meta["selected"];
  dir.meta().extra["refusal_tokens"] = tokens;
  meta["files"]["direction_gguf"] = best.layer >= 1 ? "direction.gguf" : nullptr;

  // 4. evaluation
  if (o.evaluate) {
    RefusalEvalOptions eo = o.eval;
    eo.refusal_tokens = refusal_tokens;
    eo.progress = o.progress;
    run.eval = evaluate_refusal(model, dir.at_layer(best.layer), best.layer, texts(harmful_test),
                                texts(harmless_test), default_harmless_text(), eo);
    meta["timings"]["eval_seconds"] = run.eval->seconds;
  }
  meta["timings"]["total_seconds"] = seconds_since(t0);
  return run;
}

void write_refusal_run(const RefusalRun& run, const std::string& out) {
  RunFolder folder(out, "refusal");  // all or nothing: a writer that throws leaves `out` as it was
  const std::string& out_dir = folder.path();
  write_candidates(run.selection, out_dir);
  write_selection_plots(run.selection, run.n_layers, out_dir);
  if (run.selection.best >= 0) {
    const int layer = run.selection.candidates[run.selection.best].layer;
    save_directions(run.direction, out_dir + "/direction.safetensors");
    if (layer >= 1) save_directions(run.direction, out_dir + "/direction.gguf");
    if (run.eval) {
      // The evaluation's files record the run as it stood before the total was known.
      nlohmann::json context = run.metadata;
      context["timings"].erase("total_seconds");
      write_refusal_eval(*run.eval, out_dir, context);
    }
  }
  write_json_file(run.metadata, out_dir + "/metadata.json");
  folder.commit();
}

RefusalRun run_refusal_pipeline(const Model& model, const RefusalPipelineOptions& options, const std::string& out_dir) {
  check_output_folder("-o", out_dir);  // before the work
  RefusalRun run = compute_refusal_run(model, options);
  write_refusal_run(run, out_dir);
  return run;
}

}  // namespace steer
