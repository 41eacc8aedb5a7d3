// The jailbreak run folder (contract in include/steer/jailbreak.h).
#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>

#include "io/run_folder.h"
#include "pipelines/refusal_report.h"
#include "report/report.h"
#include "steer/error.h"
#include "steer/jailbreak.h"

namespace steer {
namespace {

nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json nums(const std::vector<double>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : v) a.push_back(num(x));
  return a;
}

nlohmann::json interval(const Interval& i) { return {num(i.lo), num(i.hi)}; }

// A class name as a file name: letters, digits, '-' and '_' kept, anything else '_'.
std::string file_stem(const std::string& name) {
  std::string s;
  for (char c : name) s += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return s.empty() ? "class" : s;
}

std::string pct(double v) { return std::isfinite(v) ? format_number(100 * v, "%.0f") + " %" : "–"; }

void save_vector(const at::Tensor& v, const JailbreakRun& run, const std::string& method, const std::string& path) {
  DirectionMeta meta;
  meta.model = run.metadata.value("model", nlohmann::json::object()).value("path", "");
  meta.n_layers = run.n_layers;
  meta.d_model = int(v.size(1));
  meta.site = SiteKind::kResidPost;
  meta.method = method;
  meta.positions = {-1};
  std::map<int, at::Tensor> vectors;
  for (int l = 0; l < run.n_layers; ++l) vectors[l] = v[l].to(at::kFloat).contiguous();
  save_directions(DirectionSet(meta, vectors), path);
}

}  // namespace

void write_jailbreak_run(const JailbreakRun& run, const std::string& out) {
  RunFolder folder(out, "jailbreak");  // all or nothing: a writer that throws leaves `out` as it was
  const std::string& dir = folder.path();
  std::error_code ec;
  std::filesystem::create_directories(dir + "/vectors", ec);
  if (ec) fail("jailbreak: cannot create " + dir + "/vectors: " + ec.message());
  const size_t k = run.classes.size();
  std::vector<std::string> names;
  for (const JailbreakClassResult& c : run.classes) names.push_back(c.name);

  nlohmann::json summary;
  summary["layer"] = run.layer;
  summary["n_layers"] = run.n_layers;
  summary["classes"] = nlohmann::json::object();
  std::vector<std::vector<std::string>> class_rows, supp_rows, pca_rows;
  for (size_t c = 0; c < k; ++c) {
    const JailbreakClassResult& r = run.classes[c];
    nlohmann::json j = {{"refusal_rate_plain", num(r.refusal_plain.mean)},
                        {"refusal_rate_wrapped", num(r.refusal_wrapped.mean)},
                        {"ci95_plain", interval(r.refusal_plain)},
                        {"ci95_wrapped", interval(r.refusal_wrapped)},
                        {"score_refusal_rate_plain", num(r.score_refusal_plain.mean)},
                        {"score_refusal_rate_wrapped", num(r.score_refusal_wrapped.mean)},
                        {"score_ci95_wrapped", interval(r.score_refusal_wrapped)},
                        {"mean_refusal_score_plain", num(r.mean_score_plain)},
                        {"mean_refusal_score_wrapped", num(r.mean_score_wrapped)},
                        {"verdicts_wrapped", r.substring_counts.to_json()},
                        {"cos_harmfulness", num(r.cos_harmfulness)},
                        {"cos_refusal", r.cos_refusal ? num(*r.cos_refusal) : nlohmann::json(nullptr)},
                        {"norm", num(r.norm)},
                        {"harmfulness_projection_plain", num(r.proj_plain.at(size_t(run.layer)))},
                        {"harmfulness_projection_wrapped", num(r.proj_wrapped.at(size_t(run.layer)))},
                        {"pca", {num(run.pca[c][0]), num(run.pca[c][1])}}};
    if (r.judge_wrapped) {
      j["judge_refusal_rate_plain"] = num(r.judge_plain->mean);
      j["judge_refusal_rate_wrapped"] = num(r.judge_wrapped->mean);
      j["judge_ci95_wrapped"] = interval(*r.judge_wrapped);
      j["judge_verdicts_wrapped"] = r.judge_counts.to_json();
    }
    summary["classes"][r.name] = j;
    class_rows.push_back({r.name, format_number(r.refusal_plain.mean), format_number(r.refusal_wrapped.mean),
                          format_number(r.refusal_wrapped.lo), format_number(r.refusal_wrapped.hi),
                          std::to_string(r.substring_counts.unjudged), format_number(r.score_refusal_wrapped.mean),
                          format_number(r.mean_score_wrapped),
                          r.judge_wrapped ? format_number(r.judge_wrapped->mean) : "", format_number(r.cos_harmfulness),
                          r.cos_refusal ? format_number(*r.cos_refusal) : "", format_number(r.norm)});
    for (int l = 0; l < run.n_layers; ++l)
      supp_rows.push_back({r.name, std::to_string(l), format_number(r.proj_plain[size_t(l)]),
                           format_number(r.proj_wrapped[size_t(l)]),
                           format_number(r.proj_wrapped[size_t(l)] - r.proj_plain[size_t(l)])});
    pca_rows.push_back({r.name, format_number(run.pca[c][0]), format_number(run.pca[c][1])});
    save_vector(run.vectors.at(r.name), run, "jailbreak-vector", dir + "/vectors/" + file_stem(r.name) + ".safetensors");
  }
  save_vector(run.harmfulness, run, "harmfulness", dir + "/vectors/harmfulness.safetensors");

  nlohmann::json values = nlohmann::json::array();
  for (const auto& row : run.cosine) values.push_back(nums(row));
  summary["cosine_matrix"] = {{"names", names}, {"values", values}, {"layer", run.layer}};
  summary["mean_pairwise_cosine"] = num(run.mean_pairwise_cosine.at(size_t(run.layer)));
  summary["mean_pairwise_cosine_by_layer"] = nums(run.mean_pairwise_cosine);
  summary["pca_explained_variance"] = {num(run.pca_explained[0]), num(run.pca_explained[1])};
  std::vector<std::vector<std::string>> cm_rows;
  if (run.mitigation) {
    const CrossMitigation& m = *run.mitigation;
    nlohmann::json asr = nlohmann::json::array();
    for (const auto& row : m.asr) asr.push_back(nums(row));
    summary["cross_mitigation"] = {{"names", m.names},         {"asr", asr},
                                   {"random_control", nums(m.random_control)}, {"unsteered", nums(m.unsteered)},
                                   {"n", m.n},                 {"norm", num(m.norm)},
                                   {"layer", run.layer},       {"positions", "after-instruction"}};
    if (!m.refusal_added.empty()) summary["cross_mitigation"]["refusal_added"] = nums(m.refusal_added);
    for (size_t y = 0; y < m.names.size(); ++y) {
      cm_rows.push_back({"unsteered", m.names[y], format_number(m.unsteered[y])});
      cm_rows.push_back({"random", m.names[y], format_number(m.random_control[y])});
      for (size_t x = 0; x < m.names.size(); ++x) cm_rows.push_back({"minus " + m.names[x], m.names[y], format_number(m.asr[x][y])});
      if (!m.refusal_added.empty()) cm_rows.push_back({"plus refusal", m.names[y], format_number(m.refusal_added[y])});
    }
  } else {
    summary["cross_mitigation"] = {{"names", nlohmann::json::array()}, {"asr", nlohmann::json::array()},
                                   {"random_control", nlohmann::json::array()}, {"unsteered", nlohmann::json::array()},
                                   {"skipped", true}};
  }
  summary["metadata"] = run.metadata;
  write_json_file(summary, dir + "/summary.json");

  // Tables.
  const std::vector<std::string> ch = {"class", "refusal_rate_plain", "refusal_rate_wrapped", "ci95_lo", "ci95_hi",
                                       "unjudged", "score_refusal_rate_wrapped", "mean_refusal_score_wrapped",
                                       "judge_refusal_rate_wrapped", "cos_harmfulness", "cos_refusal", "norm"};
  write_csv(dir + "/classes.csv", ch, class_rows);
  std::vector<std::string> cos_header = {"class"};
  cos_header.insert(cos_header.end(), names.begin(), names.end());
  std::vector<std::vector<std::string>> cos_rows;
  for (size_t i = 0; i < k; ++i) {
    std::vector<std::string> row = {names[i]};
    for (double v : run.cosine[i]) row.push_back(format_number(v));
    cos_rows.push_back(row);
  }
  write_csv(dir + "/cosine.csv", cos_header, cos_rows);
  std::vector<std::vector<std::string>> by_layer;
  for (size_t l = 0; l < run.mean_pairwise_cosine.size(); ++l)
    by_layer.push_back({std::to_string(l), format_number(run.mean_pairwise_cosine[l])});
  write_csv(dir + "/cosine_by_layer.csv", {"layer", "mean_pairwise_cosine"}, by_layer);
  write_csv(dir + "/suppression.csv", {"class", "layer", "projection_plain", "projection_wrapped", "difference"}, supp_rows);
  write_csv(dir + "/pca.csv", {"class", "pc1", "pc2"}, pca_rows);
  if (run.mitigation) write_csv(dir + "/cross_mitigation.csv", {"condition", "class", "attack_success_rate"}, cm_rows);
  nlohmann::json completions = nlohmann::json::array();
  for (const JailbreakClassResult& r : run.classes)
    for (size_t i = 0; i < r.prompts.size(); ++i)
      completions.push_back({{"class", r.name}, {"prompt", r.prompts[i]}, {"completion", r.completions[i]}});
  write_json_file(completions, dir + "/completions.json");

  // Plots.
  Heatmap cos;
  cos.title = "cosine similarity of the jailbreak vectors, layer " + std::to_string(run.layer);
  cos.row_labels = cos.col_labels = names;
  cos.values = run.cosine;
  const std::string cos_svg = render_svg(cos);
  write_text_file_atomic(dir + "/cosine.svg", cos_svg);
  LineChart evo;
  evo.title = "mean pairwise cosine of the jailbreak vectors, by layer";
  evo.x_label = "layer";
  evo.y_label = "mean cosine";
  Series es{"mean pairwise cosine", {}, run.mean_pairwise_cosine};
  for (size_t l = 0; l < run.mean_pairwise_cosine.size(); ++l) es.x.push_back(double(l));
  evo.series.push_back(es);
  const std::string evo_svg = render_svg(evo);
  write_text_file_atomic(dir + "/cosine_by_layer.svg", evo_svg);
  BarChart rates;
  rates.title = "refusal rate (substring judge), plain vs wrapped";
  rates.y_label = "refusal rate";
  rates.categories = names;
  BarSeries plain_bars{"plain", {}}, wrapped_bars{"wrapped", {}};
  for (const JailbreakClassResult& r : run.classes) {
    plain_bars.values.push_back(r.refusal_plain.mean);
    wrapped_bars.values.push_back(r.refusal_wrapped.mean);
  }
  rates.series = {plain_bars, wrapped_bars};
  const std::string rates_svg = render_svg(rates);
  write_text_file_atomic(dir + "/refusal_rates.svg", rates_svg);
  LineChart supp;
  supp.title = "projection on the harmfulness direction: wrapped − plain, by layer";
  supp.x_label = "layer";
  supp.y_label = "mean projection difference";
  supp.markers = false;
  for (const JailbreakClassResult& r : run.classes) {
    Series s{r.name, {}, {}};
    for (int l = 0; l < run.n_layers; ++l) {
      s.x.push_back(double(l));
      s.y.push_back(r.proj_wrapped[size_t(l)] - r.proj_plain[size_t(l)]);
    }
    supp.series.push_back(s);
  }
  supp.hlines = {{"no change", 0.0}};
  const std::string supp_svg = render_svg(supp);
  write_text_file_atomic(dir + "/suppression.svg", supp_svg);
  LineChart pca;
  pca.title = "PCA of the jailbreak vectors, layer " + std::to_string(run.layer);
  pca.x_label = "PC1 (" + pct(run.pca_explained[0]) + " of variance)";
  pca.y_label = "PC2 (" + pct(run.pca_explained[1]) + ")";
  for (size_t c = 0; c < k; ++c) pca.series.push_back({names[c], {run.pca[c][0]}, {run.pca[c][1]}});
  const std::string pca_svg = render_svg(pca);
  write_text_file_atomic(dir + "/pca.svg", pca_svg);
  std::string cm_svg;
  if (run.mitigation) {
    const CrossMitigation& m = *run.mitigation;
    Heatmap h;
    h.title = "attack success rate: class-Y prompts (columns) with −(class X vector) (rows), layer " + std::to_string(run.layer);
    h.x_label = "prompts of class Y";
    h.y_label = "vector subtracted";
    h.col_labels = m.names;
    h.row_labels = {"unsteered", "random (same norm)"};
    h.values = {m.unsteered, m.random_control};
    for (size_t x = 0; x < m.names.size(); ++x) {
      h.row_labels.push_back("− " + m.names[x]);
      h.values.push_back(m.asr[x]);
    }
    if (!m.refusal_added.empty()) {
      h.row_labels.push_back("+ refusal direction");
      h.values.push_back(m.refusal_added);
    }
    cm_svg = render_svg(h);
    write_text_file_atomic(dir + "/cross_mitigation.svg", cm_svg);
  }

  // The page.
  const std::string model = run.metadata.value("model", nlohmann::json::object()).value("path", "model");
  HtmlReport html("Jailbreak classes — " + model);
  if (run.metadata.contains("note")) html.paragraph(run.metadata["note"].get<std::string>());
  html.paragraph("Ball et al. (2024): per jailbreak class, the vector mean(act(wrapped) − act(plain)) at the last prompt "
                 "token of hook_resid_post, every layer; the harmfulness direction mean(harmful) − mean(harmless) at the "
                 "last instruction token. Refusal rates: greedy completions, the substring judge (95 % bootstrap "
                 "intervals over prompts) and the first-token refusal score (> 0 = refusing).");
  std::vector<std::vector<std::string>> table;
  for (const JailbreakClassResult& r : run.classes)
    table.push_back({r.name, pct(r.refusal_plain.mean),
                     pct(r.refusal_wrapped.mean) + " [" + pct(r.refusal_wrapped.lo) + ", " + pct(r.refusal_wrapped.hi) + "]",
                     std::to_string(r.substring_counts.unjudged), pct(r.score_refusal_wrapped.mean),
                     r.judge_wrapped ? pct(r.judge_wrapped->mean) : "–", format_number(r.cos_harmfulness, "%.3f"),
                     r.cos_refusal ? format_number(*r.cos_refusal, "%.3f") : "–"});
  html.heading("Does each class jailbreak the model?")
      .table({"class", "refused (plain)", "refused (wrapped) [95 % CI]", "no verdict", "first-token refusal (wrapped)",
              "model judge (wrapped)", "cos(v, harmfulness)", "cos(v, refusal)"},
             table)
      .svg(rates_svg);
  html.heading("How the class vectors relate")
      .paragraph("Mean pairwise cosine at layer " + std::to_string(run.layer) + ": " +
                 format_number(run.mean_pairwise_cosine.at(size_t(run.layer)), "%.3f") + " (Ball et al.: 0.58 on Vicuna-13B).")
      .svg(cos_svg)
      .svg(evo_svg)
      .svg(pca_svg);
  html.heading("Harmfulness suppression").svg(supp_svg);
  if (run.mitigation)
    html.heading("Cross-mitigation")
        .paragraph("Greedy completions of the first " + std::to_string(run.mitigation->n) +
                   " wrapped prompts of each class while −v̄_X (rescaled to the classes' mean norm, " +
                   format_number(run.mitigation->norm, "%.2f") + ") is added at layer " + std::to_string(run.layer) +
                   " after the instruction; attack success = not refused by the substring judge. Control rows: unsteered, a "
                   "seeded random vector of the same norm, and (with --refusal) the refusal direction added at the same "
                   "layer and norm.")
        .svg(cm_svg);
  html.heading("Example completions");
  for (const JailbreakClassResult& r : run.classes) {
    if (r.prompts.empty()) continue;
    html.heading(r.name, 3).table({"wrapped prompt", "completion"}, {{r.prompts[0], r.completions[0]}});
  }
  html.write(dir + "/report.html");
  folder.commit();
}

}  // namespace steer
