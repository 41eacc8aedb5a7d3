// The CAA run folder (contract in include/steer/caa.h): the summary scripts read, the vectors in
// both formats, CSV tables, the paper's two sweep plots and the analyses, and one HTML page.
#include <cmath>
#include <filesystem>
#include <limits>

#include "pipelines/refusal_report.h"
#include "report/report.h"
#include "steer/json_text.h"
#include "steer/caa.h"
#include "steer/error.h"
#include "io/run_folder.h"

namespace steer {
namespace {


// Mean p(matching) of sweep setting s over its questions.
double mean_p(const ChoiceSweep& sweep, size_t s, const std::vector<char>& matching_letter) {
  double t = 0;
  for (size_t q = 0; q < matching_letter.size(); ++q) t += sweep.p(s, q, matching_letter[q]);
  return t / double(matching_letter.size());
}

nlohmann::json score_json(const CaaScore& s) {
  return {{"condition", s.condition}, {"multiplier", s.multiplier}, {"p", s.p.mean}, {"ci95", {s.p.lo, s.p.hi}},
          {"accuracy", s.accuracy}, {"delta", s.delta.mean}, {"delta_ci95", {s.delta.lo, s.delta.hi}}};
}

std::vector<std::string> score_row(const CaaScore& s) {
  return {s.condition, format_number(s.multiplier, "%g"), format_number(s.p.mean), format_number(s.p.lo), format_number(s.p.hi), format_number(s.accuracy, "%.3f"),
          format_number(s.delta.mean), format_number(s.delta.lo), format_number(s.delta.hi)};
}

const std::vector<std::string> kScoreHeader = {"condition", "multiplier", "p",      "ci95_lo", "ci95_hi",
                                               "accuracy",  "delta",      "delta_lo", "delta_hi"};

// Scatter points as a line chart: a NaN between points leaves each one isolated (a dot).
Series scatter(const std::string& name, const std::vector<std::vector<double>>& pts) {
  Series s{name, {}, {}};
  for (const auto& p : pts) {
    s.x.push_back(p[0]);
    s.y.push_back(p[1]);
    s.x.push_back(std::numeric_limits<double>::quiet_NaN());
    s.y.push_back(std::numeric_limits<double>::quiet_NaN());
  }
  return s;
}

}  // namespace

void write_caa_run(const CaaRun& run, const std::string& out) {
  RunFolder folder(out, "caa");  // all or nothing: a writer that throws leaves `out` as it was
  const std::string& out_dir = folder.path();
  const int L = run.best.layer;

  save_directions(run.vectors, out_dir + "/vectors.safetensors");
  std::vector<int> gguf_layers;
  for (int l : run.vectors.layers())
    if (l >= 1) gguf_layers.push_back(l);  // llama.cpp control vectors have no layer 0
  save_directions(run.vectors.only_layers(gguf_layers), out_dir + "/vectors.gguf");

  nlohmann::json summary;
  summary["behavior"] = run.behavior;
  summary["best_layer"] = L;
  summary["best_layer_effect"] = run.best.effect;
  summary["best_layer_monotone"] = run.best.monotone;
  summary["letter_offset"] = run.letter_offset;

  // Layer sweep: mean p(matching) per (layer, multiplier).
  nlohmann::json ls = nlohmann::json::array();
  std::vector<std::vector<std::string>> ls_rows;
  std::map<double, Series> by_m;
  const std::vector<char>& letters = run.matching_letters;
  for (size_t s = 0; s < run.layer_sweep.settings.size(); ++s) {
    const SteerSetting& st = run.layer_sweep.settings[s];
    const double p = mean_p(run.layer_sweep, s, letters);
    ls.push_back({{"layer", st.layer}, {"multiplier", st.multiplier}, {"p_matching", p}});
    ls_rows.push_back({std::to_string(st.layer), format_number(st.multiplier, "%g"), format_number(p)});
    Series& ser = by_m[st.multiplier];
    ser.name = "m = " + format_number(st.multiplier, "%+g");
    ser.x.push_back(st.layer);
    ser.y.push_back(p);
  }
  summary["layer_sweep"] = ls;
  write_csv(out_dir + "/layer_sweep.csv", {"layer", "multiplier", "p_matching"}, ls_rows);

  nlohmann::json ms = nlohmann::json::array();
  std::vector<std::vector<std::string>> ms_rows;
  Series curve{"p(matching)", {}, {}}, lo{"95 % interval (low)", {}, {}}, hi{"95 % interval (high)", {}, {}};
  for (const CaaScore& s : run.multiplier_scores) {
    ms.push_back({{"multiplier", s.multiplier}, {"p_matching", s.p.mean}, {"ci95", {s.p.lo, s.p.hi}},
                  {"delta_vs_0", s.delta.mean}, {"delta_ci95", {s.delta.lo, s.delta.hi}},
                  {"within_noise", s.delta.contains(0.0)}});
    ms_rows.push_back(score_row(s));
    curve.x.push_back(s.multiplier);
    curve.y.push_back(s.p.mean);
    lo.x.push_back(s.multiplier);
    lo.y.push_back(s.p.lo);
    hi.x.push_back(s.multiplier);
    hi.y.push_back(s.p.hi);
  }
  summary["multiplier_sweep"] = ms;
  write_csv(out_dir + "/multiplier_sweep.csv", kScoreHeader, ms_rows);

  nlohmann::json bl = nlohmann::json::array(), gd = nlohmann::json::array();
  std::vector<std::vector<std::string>> bl_rows, gd_rows;
  for (const CaaScore& s : run.baselines) {
    bl.push_back(score_json(s));
    bl_rows.push_back(score_row(s));
  }
  for (const CaaScore& s : run.guard) {
    gd.push_back(score_json(s));
    gd_rows.push_back(score_row(s));
  }
  summary["baselines"] = bl;
  summary["guard"] = gd;
  write_csv(out_dir + "/baselines.csv", kScoreHeader, bl_rows);
  write_csv(out_dir + "/guard.csv", kScoreHeader, gd_rows);

  nlohmann::json oe = nlohmann::json::array();
  for (const OpenEndedAnswer& a : run.open_ended) {
    nlohmann::json item = {{"question", a.question}, {"multiplier", a.multiplier}, {"layer", a.multiplier == 0 ? -1 : L},
                           {"answer", a.answer}, {"answer_ids", a.answer_ids}};
    item["refused_substring"] = a.refused < 0 ? nlohmann::json() : nlohmann::json(a.refused == 1);
    if (!run.open_ended_scores.empty()) {
      item["score"] = a.score ? nlohmann::json(*a.score) : nlohmann::json();
      item["judge_reply"] = a.judge_reply;
    }
    oe.push_back(item);
  }
  write_json_file(oe, out_dir + "/open_ended.json");
  for (const auto& [m, counts] : run.open_ended_refusal) {
    nlohmann::json c = counts.to_json();
    c["multiplier"] = m;
    summary["open_ended_refusal"].push_back(c);
  }
  const std::vector<std::string> kJudgedHeader = {"condition", "mean score (0-10)", "ci95 lo", "ci95 hi", "scored", "unscored"};
  std::vector<std::vector<std::string>> js_rows;
  for (const JudgedCondition& c : run.open_ended_scores) {
    const std::string name = c.multiplier == 0 ? "unsteered" : "layer " + std::to_string(L) + ", m=" + format_number(c.multiplier, "%+g");
    summary["open_ended_scores"].push_back({{"multiplier", c.multiplier}, {"score", c.score.mean},
                                            {"ci95", {c.score.lo, c.score.hi}}, {"scored", c.scored},
                                            {"unscored", c.unscored}});
    js_rows.push_back({name, format_number(c.score.mean, "%.2f"), format_number(c.score.lo, "%.2f"),
                       format_number(c.score.hi, "%.2f"), std::to_string(c.scored), std::to_string(c.unscored)});
  }
  if (!js_rows.empty()) write_csv(out_dir + "/open_ended_scores.csv", kJudgedHeader, js_rows);
  std::vector<std::vector<std::string>> jc_rows;
  if (run.judge_check) {
    const JudgeCheck& jc = *run.judge_check;
    nlohmann::json items = nlohmann::json::array();
    for (size_t i = 0; i < jc.items.size(); ++i) {
      items.push_back({{"question", jc.items[i].question}, {"answer", jc.items[i].answer}, {"label", jc.items[i].label},
                       {"score", jc.scores[i] ? nlohmann::json(*jc.scores[i]) : nlohmann::json()}});
      jc_rows.push_back({jc.items[i].question, jc.items[i].answer, format_number(jc.items[i].label, "%g"),
                         jc.scores[i] ? format_number(*jc.scores[i], "%g") : std::string("none")});
    }
    summary["judge_check"] = {{"items", items}, {"accuracy", jc.accuracy}, {"mean_abs_error", jc.mean_abs_error},
                              {"unscored", jc.unscored}};
  }
  LineChart cmp;
  cmp.title = run.behavior + ": cosine similarity with other vector sets, per layer";
  cmp.x_label = "layer";
  cmp.y_label = "cosine";
  std::vector<std::vector<std::string>> cmp_rows;
  for (const auto& [name, c] : run.compare_cosine) {
    Series ser{name, {}, {}};
    for (const auto& [l, v] : c) {
      summary["compare_cosine"][name][std::to_string(l)] = v;
      ser.x.push_back(l);
      ser.y.push_back(v);
      cmp_rows.push_back({name, std::to_string(l), format_number(v)});
    }
    cmp.series.push_back(ser);
  }
  std::string cmp_svg;
  if (!cmp.series.empty()) {
    cmp_svg = render_svg(cmp);
    write_text_file_atomic(out_dir + "/compare_cosine.svg", cmp_svg);
    write_csv(out_dir + "/compare_cosine.csv", {"vectors", "layer", "cosine"}, cmp_rows);
  }
  LineChart ft_chart;
  ft_chart.title = run.behavior + ": fine-tuning baseline, cross-entropy of the answer letter per step";
  ft_chart.x_label = "step";
  ft_chart.y_label = "loss (nats)";
  ft_chart.markers = false;
  std::vector<std::vector<std::string>> ft_rows;
  for (const FinetuneCurve& f : run.finetune) {
    summary["finetune"].push_back({{"towards", f.towards}, {"steps", f.step_loss.size()}, {"loss_before", f.loss_before},
                                   {"loss_after", f.loss_after}, {"seconds", f.seconds}});
    Series ser{"towards " + f.towards, {}, f.step_loss};
    for (size_t i = 0; i < f.step_loss.size(); ++i) {
      ser.x.push_back(double(i + 1));
      ft_rows.push_back({f.towards, std::to_string(i + 1), format_number(f.step_loss[i])});
    }
    ft_chart.series.push_back(ser);
  }
  std::string ft_svg;
  if (!ft_chart.series.empty()) {
    ft_svg = render_svg(ft_chart);
    write_text_file_atomic(out_dir + "/finetune_loss.svg", ft_svg);
    write_csv(out_dir + "/finetune_loss.csv", {"towards", "step", "loss"}, ft_rows);
  }
  summary["metadata"] = run.metadata;
  write_json_file(summary, out_dir + "/summary.json");

  // Plots.
  LineChart layer_chart;
  layer_chart.title = run.behavior + ": p(matching answer) by layer";
  layer_chart.x_label = "layer steered";
  layer_chart.y_label = "p(matching)";
  for (auto& [m, s] : by_m) layer_chart.series.push_back(s);
  const std::string layer_svg = render_svg(layer_chart);
  write_text_file_atomic(out_dir + "/layer_sweep.svg", layer_svg);

  LineChart mult_chart;
  mult_chart.title = run.behavior + ": p(matching answer) at layer " + std::to_string(L);
  mult_chart.x_label = "multiplier";
  mult_chart.y_label = "p(matching)";
  mult_chart.series = {curve, lo, hi};
  const std::string mult_svg = render_svg(mult_chart);
  write_text_file_atomic(out_dir + "/multiplier_sweep.svg", mult_svg);

  Heatmap cos;
  cos.title = run.behavior + ": cosine similarity of the vectors across layers";
  cos.x_label = "layer";
  cos.y_label = "layer";
  for (int l : run.vectors.layers()) {
    cos.row_labels.push_back(std::to_string(l));
    cos.col_labels.push_back(std::to_string(l));
  }
  cos.values = run.layer_cosine;
  cos.value_format = "%.1f";
  const std::string cos_svg = render_svg(cos);
  write_text_file_atomic(out_dir + "/layer_cosine.svg", cos_svg);

  LineChart proj;
  proj.title = run.behavior + ": mean projection on the layer's unit vector (train answers)";
  proj.x_label = "layer";
  proj.y_label = "projection";
  Series pm{"matching answer", {}, run.proj_matching}, pn{"not matching answer", {}, run.proj_not_matching};
  for (size_t l = 0; l < run.proj_matching.size(); ++l) {
    pm.x.push_back(double(l));
    pn.x.push_back(double(l));
  }
  proj.series = {pm, pn};
  std::string proj_svg, pca_svg;
  if (!run.proj_matching.empty()) {
    proj_svg = render_svg(proj);
    write_text_file_atomic(out_dir + "/projection.svg", proj_svg);
  }

  LineChart pca;
  pca.title = run.behavior + ": train activations at layer " + std::to_string(L) + ", first two principal components";
  pca.x_label = "PC 1";
  pca.y_label = "PC 2";
  pca.series = {scatter("matching answer", run.pca_matching), scatter("not matching answer", run.pca_not_matching)};
  if (!run.pca_matching.empty()) {
    pca_svg = render_svg(pca);
    write_text_file_atomic(out_dir + "/pca.svg", pca_svg);
  }

  HtmlReport html("CAA — " + run.behavior + " — " + run.metadata["model"]["path"].get<std::string>());
  if (run.metadata.contains("note")) html.paragraph(run.metadata["note"].get<std::string>());
  html.paragraph("Vectors from " + json_text(run.metadata["vectors"]["n_pairs"]) + " train pairs (hook_resid_post at the answer "
                 "letter, position " + std::to_string(run.letter_offset) + " from the end); " +
                 json_text(run.metadata["layer_sweep"]["questions"]) + " test questions. Best layer " + std::to_string(L) +
                 " (p(+1) − p(−1) = " + format_number(run.best.effect, "%.3f") + (run.best.monotone ? "" : ", not monotone") +
                 "). Intervals: 95 % bootstrap over questions; Δ is the paired difference to the unsteered row.");
  html.heading("Layer sweep").svg(layer_svg);
  html.heading("Multiplier sweep at layer " + std::to_string(L)).svg(mult_svg).table(kScoreHeader, ms_rows);
  if (!bl_rows.empty()) html.heading("Baselines (few-shot prompting, fine-tuning), with steering stacked").table(kScoreHeader, bl_rows);
  if (!ft_svg.empty()) html.svg(ft_svg);
  if (!gd_rows.empty()) html.heading("Capability guard: p(correct answer)").table(kScoreHeader, gd_rows);
  if (!run.open_ended.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const OpenEndedAnswer& a : run.open_ended) rows.push_back({a.question, format_number(a.multiplier, "%+g"), a.answer});
    html.heading("Open-ended answers (greedy)").table({"question", "multiplier", "answer"}, rows);
  }
  if (!js_rows.empty()) {
    html.heading("Open-ended answers scored by the judge (" + run.metadata["judge"]["model"].get<std::string>() + ")");
    html.table(kJudgedHeader, js_rows);
  }
  if (run.judge_check) {
    const JudgeCheck& jc = *run.judge_check;
    html.paragraph("The judge on " + std::to_string(jc.items.size()) + " hand-labelled answers (label 0 or 10): " +
                   format_number(100 * jc.accuracy, "%.0f") + " % on the label's side of 5, mean |score − label| " +
                   format_number(jc.mean_abs_error, "%.1f") + ", " + std::to_string(jc.unscored) + " without a score.");
    html.table({"question", "answer", "label", "judge's score"}, jc_rows);
  }
  html.heading("Vectors").svg(cos_svg);
  if (!proj_svg.empty()) html.svg(proj_svg);
  if (!pca_svg.empty()) html.svg(pca_svg);
  if (!cmp_svg.empty()) html.svg(cmp_svg);
  html.write(out_dir + "/report.html");
  folder.commit();
}

}  // namespace steer
