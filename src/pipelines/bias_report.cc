// The bias run folder (contract in include/steer/bias.h).
#include <cmath>
#include <filesystem>

#include "pipelines/refusal_report.h"
#include "report/report.h"
#include "steer/bias.h"
#include "steer/error.h"
#include "io/run_folder.h"

namespace steer {
namespace {

std::string key_of(double m) { return format_number(m, "%g"); }

}  // namespace

void write_bias_run(const BiasRun& run, const std::string& out) {
  RunFolder folder(out, "bias");  // all or nothing: a writer that throws leaves `out` as it was
  const std::string& out_dir = folder.path();
  std::error_code ec;
  nlohmann::json summary;
  std::vector<std::vector<std::string>> p_rows, r_rows, c_rows;
  LineChart p_chart, c_chart;
  p_chart.title = "p(stereotype) by multiplier, each domain at its best layer";
  p_chart.x_label = "multiplier";
  p_chart.y_label = "p(stereotype | stereotype or anti-stereotype)";
  c_chart.title = "cosine similarity of the domains' bias vectors";
  c_chart.x_label = "layer";
  c_chart.y_label = "cosine";
  nlohmann::json bias_refusal = nlohmann::json::array();
  for (const BiasDomain& d : run.domains) {
    const std::string sub = out_dir + "/" + d.name;
    std::filesystem::create_directories(sub, ec);
    if (ec) fail("bias: cannot create " + sub + ": " + ec.message());
    save_directions(d.vectors, sub + "/vectors.safetensors");
    std::vector<int> gl;
    for (int l : d.vectors.layers())
      if (l >= 1) gl.push_back(l);
    save_directions(d.vectors.only_layers(gl), sub + "/vectors.gguf");

    nlohmann::json dj;
    dj["best_layer"] = d.best.layer;
    dj["best_layer_effect"] = d.best.effect;
    dj["best_layer_monotone"] = d.best.monotone;
    dj["n_test"] = d.n_test;
    dj["n_train"] = d.n_train;
    Series s{d.name, {}, {}};
    for (size_t i = 0; i < d.multipliers.size(); ++i) {
      const std::string k = key_of(d.multipliers[i]);
      dj["p_stereotype"][k] = d.p_stereotype[i].mean;
      dj["ci95"][k] = {d.p_stereotype[i].lo, d.p_stereotype[i].hi};
      dj["p_unrelated_by_multiplier"][k] = d.p_unrelated[i].mean;
      if (d.multipliers[i] == 0) dj["p_unrelated"] = d.p_unrelated[i].mean;
      p_rows.push_back({d.name, std::to_string(d.best.layer), k, format_number(d.p_stereotype[i].mean), format_number(d.p_stereotype[i].lo),
                        format_number(d.p_stereotype[i].hi), format_number(d.p_unrelated[i].mean)});
      s.x.push_back(d.multipliers[i]);
      s.y.push_back(d.p_stereotype[i].mean);
    }
    p_chart.series.push_back(s);
    nlohmann::json sweep = nlohmann::json::array();
    for (size_t i = 0; i < d.layers.size(); ++i)
      sweep.push_back({{"layer", d.layers[i]}, {"p_minus", d.layer_p_minus[i]}, {"p_zero", d.layer_p_zero[i]},
                       {"p_plus", d.layer_p_plus[i]}});
    dj["layer_sweep"] = sweep;
    for (size_t i = 0; i < d.refusal_multipliers.size(); ++i) {
      bias_refusal.push_back({{"domain", d.name}, {"bias_multiplier", d.refusal_multipliers[i]}, {"layer", d.best.layer},
                              {"refusal_score_harmful", d.refusal_harmful[i]}, {"refusal_score_harmless", d.refusal_harmless[i]},
                              {"refusal_rate_harmful", d.refusal_rate_harmful[i]},
                              {"refusal_rate_harmless", d.refusal_rate_harmless[i]}});
      r_rows.push_back({d.name, key_of(d.refusal_multipliers[i]), format_number(d.refusal_harmful[i], "%.3f"),
                        format_number(d.refusal_rate_harmful[i], "%.3f"), format_number(d.refusal_harmless[i], "%.3f"),
                        format_number(d.refusal_rate_harmless[i], "%.3f")});
    }
    if (d.p_refusal_ablated)
      dj["refusal_direction"] = {{"p_stereotype_ablated", d.p_refusal_ablated->mean},
                                 {"ci95_ablated", {d.p_refusal_ablated->lo, d.p_refusal_ablated->hi}},
                                 {"p_stereotype_added", d.p_refusal_added->mean},
                                 {"ci95_added", {d.p_refusal_added->lo, d.p_refusal_added->hi}}};
    summary["domains"][d.name] = dj;
  }
  summary["cosine_layer"] = run.cosine_layer;
  summary["cosine"] = nlohmann::json::object();
  for (const auto& [pair, c] : run.cosine_by_layer) {
    summary["cosine"][pair] = c.at(size_t(run.cosine_layer));
    summary["cosine_by_layer"][pair] = c;
    Series s{pair, {}, c};
    for (size_t l = 0; l < c.size(); ++l) {
      s.x.push_back(double(l));
      c_rows.push_back({pair, std::to_string(l), format_number(c[l])});
    }
    c_chart.series.push_back(s);
  }
  std::vector<std::vector<std::string>> x_rows;
  if (!run.compare_model.empty()) {
    summary["compare_model"] = run.compare_model;
    summary["cross_model_cosine"] = run.cross_model_cosine;
    summary["compare_cosine_by_layer"] = run.compare_cosine_by_layer;
    for (const auto& [domain, c] : run.cross_model_cosine)
      for (size_t l = 0; l < c.size(); ++l) x_rows.push_back({domain, "same domain, other model", std::to_string(l), format_number(c[l])});
    for (const auto& [pair, c] : run.compare_cosine_by_layer)
      for (size_t l = 0; l < c.size(); ++l) x_rows.push_back({pair, "domains, other model", std::to_string(l), format_number(c[l])});
    write_csv(out_dir + "/compare_model_cosine.csv", {"vectors", "comparison", "layer", "cosine"}, x_rows);
  }
  summary["bias_refusal"] = bias_refusal;
  summary["metadata"] = run.metadata;
  write_json_file(summary, out_dir + "/summary.json");
  const std::vector<std::string> ph = {"domain", "layer", "multiplier", "p_stereotype", "ci95_lo", "ci95_hi", "p_unrelated"};
  const std::vector<std::string> rh = {"domain", "bias_multiplier", "refusal_score_harmful", "refusal_rate_harmful",
                                       "refusal_score_harmless", "refusal_rate_harmless"};
  write_csv(out_dir + "/p_stereotype.csv", ph, p_rows);
  write_csv(out_dir + "/bias_refusal.csv", rh, r_rows);
  write_csv(out_dir + "/cosine.csv", {"pair", "layer", "cosine"}, c_rows);
  const std::string p_svg = render_svg(p_chart);
  write_text_file_atomic(out_dir + "/p_stereotype.svg", p_svg);
  std::string c_svg;
  if (!c_chart.series.empty()) {
    c_svg = render_svg(c_chart);
    write_text_file_atomic(out_dir + "/cosine.svg", c_svg);
  }
  HtmlReport html("Bias steering — " + run.metadata["model"]["path"].get<std::string>());
  if (run.metadata.contains("note")) html.paragraph(run.metadata["note"].get<std::string>());
  html.paragraph("StereoSet intrasentence items per domain; vectors = mean(stereotype − anti-stereotype answer) at the "
                 "answer letter (CAA). p_stereotype = p(S)/(p(S)+p(anti)) on held-out three-option questions; "
                 "p_unrelated is the sanity rate. Intervals: 95 % bootstrap over items.");
  html.heading("Bias score under steering").svg(p_svg).table(ph, p_rows);
  if (!c_svg.empty()) html.heading("Domain vectors compared").svg(c_svg);
  if (!run.compare_model.empty()) {
    LineChart x;
    x.title = "each domain's vector vs " + run.compare_model + "'s, per layer";
    x.x_label = "layer";
    x.y_label = "cosine";
    for (const auto& [domain, c] : run.cross_model_cosine) {
      Series ser{domain, {}, c};
      for (size_t l = 0; l < c.size(); ++l) ser.x.push_back(double(l));
      x.series.push_back(ser);
    }
    const std::string x_svg = render_svg(x);
    write_text_file_atomic(out_dir + "/compare_model_cosine.svg", x_svg);
    html.heading("Compared with " + run.compare_model).svg(x_svg);
  }
  html.heading("Bias vector vs refusal (first-token refusal score; rate = share > 0)").table(rh, r_rows);
  html.write(out_dir + "/report.html");
  folder.commit();
}

}  // namespace steer
