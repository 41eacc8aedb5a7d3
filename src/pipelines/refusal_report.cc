#include "pipelines/refusal_report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "steer/json_text.h"
#include "steer/error.h"
#include "report/report.h"
#include "io/run_folder.h"

namespace steer {

namespace {


// "addition" is −1·r on harmful prompts (jailbreak) and +1·r on harmless ones (induce).
std::string condition_label(const std::string& name, bool harmful) {
  return name == "addition" ? (harmful ? "addition (−1·r)" : "addition (+1·r)") : name;
}

std::string pct(double v) { return std::isfinite(v) ? format_number(100 * v, "%.1f") + " %" : "–"; }

// One line per position over layers, the baseline dashed, as the paper's plots.
std::string selection_plot(const RefusalSelection& s, double CandidateScore::*field, const std::string& title,
                           const std::string& y_label, const std::string& baseline_label, double baseline) {
  LineChart chart;
  chart.title = title;
  chart.x_label = "layer";
  chart.y_label = y_label;
  std::map<int64_t, Series> by_pos;
  for (const auto& c : s.candidates) {
    Series& series = by_pos[c.position];
    series.name = "position " + std::to_string(c.position);
    series.x.push_back(c.layer);
    series.y.push_back(c.*field);
  }
  for (auto& [pos, series] : by_pos) chart.series.push_back(series);
  if (std::isfinite(baseline)) chart.hlines.push_back({baseline_label, baseline});
  return render_svg(chart);
}

}  // namespace

void write_json_file(const nlohmann::json& j, const std::string& path) {
  write_text_file_atomic(path, json_text(j, 2) + "\n");
}

void write_candidates(const RefusalSelection& s, const std::string& out_dir) {
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < s.candidates.size(); ++i) {
    const CandidateScore& c = s.candidates[i];
    rows.push_back({std::to_string(c.position), std::to_string(c.layer), format_number(c.bypass, "%.6f"),
                    format_number(c.induce, "%.6f"), format_number(c.kl, "%.6f"), c.filtered.empty() ? "kept" : c.filtered,
                    int(i) == s.best ? "1" : "0"});
  }
  write_csv(out_dir + "/candidates.csv", {"position", "layer", "bypass", "induce", "kl", "filter", "selected"}, rows);
  write_json_file(s.to_json(), out_dir + "/candidates.json");
}

void write_selection_plots(const RefusalSelection& s, int n_layers, const std::string& out_dir) {
  write_text_file_atomic(out_dir + "/bypass_scores.svg",
                         selection_plot(s, &CandidateScore::bypass, "Refusal score of harmful prompts, direction ablated",
                                        "refusal score (log-odds)", "no ablation", s.baseline_harmful));
  write_text_file_atomic(out_dir + "/induce_scores.svg",
                         selection_plot(s, &CandidateScore::induce, "Refusal score of harmless prompts, +1·r added",
                                        "refusal score (log-odds)", "no addition", s.baseline_harmless));
  write_text_file_atomic(out_dir + "/kl_scores.svg",
                         selection_plot(s, &CandidateScore::kl, "KL(baseline ‖ ablated), harmless prompts",
                                        "KL divergence (nats)", "", NAN));
}

std::string refusal_summary_markdown(const RefusalEval& e) {
  std::string md = "| prompts | condition | refusal rate (substring) | mean refusal score |";
  bool judge = !e.harmful.empty() && !e.harmful[0].refused_judge.empty();
  if (judge) md += " refusal rate (judge) |";
  md += "\n|---|---|---|---|" + std::string(judge ? "---|" : "") + "\n";
  auto side = [&](const std::vector<RefusalCondition>& conds, const std::string& name, size_t n, bool harmful) {
    for (const auto& c : conds) {
      std::string cond = condition_label(c.name, harmful);
      md += "| " + name + " (n=" + std::to_string(n) + ") | " + cond + " | " + pct(c.refusal_rate()) + " | " +
            format_number(c.mean_score(), "%.2f") + " |" + (judge ? " " + pct(c.judge_rate()) + " |" : "") + "\n";
    }
  };
  side(e.harmful, "harmful", e.harmful_prompts.size(), true);
  side(e.harmless, "harmless", e.harmless_prompts.size(), false);
  md += "\nKL(baseline ‖ ablation), harmless prompts, last position: " + format_number(e.kl) + "\n\n";
  md += "| cross-entropy (nats/token) | baseline | ablation | addition (−1·r) |\n|---|---|---|---|\n";
  for (const auto& [name, m] : {std::pair<std::string, const std::map<std::string, double>*>{"harmless text", &e.ce_text},
                                {"own baseline completions", &e.ce_completions}}) {
    const std::map<std::string, double>* values = m;  // a structured binding cannot be captured in C++17 (clang)
    auto get = [values](const char* k) { return values->count(k) ? format_number(values->at(k)) : std::string("–"); };
    md += "| " + name + " | " + get("baseline") + " | " + get("ablation") + " | " + get("addition") + " |\n";
  }
  return md;
}

void write_refusal_eval(const RefusalEval& e, const std::string& out, const nlohmann::json& context) {
  RunFolder folder(out, "refusal eval");  // all or nothing: a writer that throws leaves `out` as it was
  const std::string& out_dir = folder.path();
  nlohmann::json summary = e.summary();
  if (!context.is_null()) summary["run"] = context;
  write_json_file(summary, out_dir + "/summary.json");

  // summary.csv: one row per (prompt set, condition).
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, conds] : {std::pair<std::string, const std::vector<RefusalCondition>*>{"harmful", &e.harmful},
                                    {"harmless", &e.harmless}})
    for (const auto& c : *conds)
      rows.push_back({name, c.name, std::to_string(c.completions.size()), format_number(c.refusal_rate()),
                      format_number(c.mean_score()), format_number(c.judge_rate())});
  write_csv(out_dir + "/summary.csv", {"prompts", "condition", "n", "refusal_rate_substring", "mean_refusal_score",
                                       "refusal_rate_judge"},
            rows);

  // completions.json / .csv: every prompt, every condition.
  nlohmann::json all = nlohmann::json::array();
  std::vector<std::vector<std::string>> crows;
  for (const auto& [name, conds, prompts] :
       {std::tuple<std::string, const std::vector<RefusalCondition>*, const std::vector<std::string>*>{
            "harmful", &e.harmful, &e.harmful_prompts},
        {"harmless", &e.harmless, &e.harmless_prompts}})
    for (const auto& c : *conds)
      for (size_t i = 0; i < c.completions.size(); ++i) {
        nlohmann::json j = {{"prompts", name},
                            {"condition", c.name},
                            {"prompt", (*prompts)[i]},
                            {"completion", c.completions[i]},
                            {"completion_ids", i < c.completion_ids.size() ? c.completion_ids[i] : std::vector<int32_t>()},
                            {"refused_substring", c.refused_substring[i] < 0 ? nlohmann::json(nullptr)
                                                                             : nlohmann::json(c.refused_substring[i] == 1)},
                            {"refusal_score", c.refusal_score[i]}};
        if (!c.refused_judge.empty())
          j["refused_judge"] = c.refused_judge[i] < 0 ? nlohmann::json(nullptr) : nlohmann::json(c.refused_judge[i] == 1);
        all.push_back(j);
        crows.push_back({name, c.name, (*prompts)[i], c.completions[i], c.refused_substring[i] < 0 ? "" : c.refused_substring[i] ? "1" : "0",
                         format_number(c.refusal_score[i])});
      }
  write_json_file(all, out_dir + "/completions.json");
  write_csv(out_dir + "/completions.csv", {"prompts", "condition", "prompt", "completion", "refused_substring",
                                           "refusal_score"},
            crows);

  std::string md = "# Refusal direction: evaluation\n\n" + refusal_summary_markdown(e);
  if (context.contains("selected") && !context["selected"].is_null())
    md = "# Refusal direction: evaluation\n\nSelected candidate: position " +
         json_text(context["selected"]["position"]) + ", layer " + json_text(context["selected"]["layer"]) + ".\n\n" +
         refusal_summary_markdown(e);
  write_text_file_atomic(out_dir + "/summary.md", md);

  HtmlReport html("Refusal direction — " + (context.contains("model") ? context["model"]["path"].get<std::string>()
                                                                        : std::string("evaluation")));
  if (context.contains("note") && context["note"].is_string()) html.paragraph(context["note"].get<std::string>());
  if (context.contains("selected") && !context["selected"].is_null())
    html.paragraph("Selected candidate: position " + json_text(context["selected"]["position"]) + ", layer " +
                   json_text(context["selected"]["layer"]) + " (bypass " + format_number(context["selected"]["bypass"].get<double>(), "%.3f") +
                   ", induce " + format_number(context["selected"]["induce"].get<double>(), "%.3f") + ", KL " +
                   format_number(context["selected"]["kl"].get<double>(), "%.4f") + ").");
  std::vector<std::vector<std::string>> table;
  for (const auto& [name, conds] : {std::pair<std::string, const std::vector<RefusalCondition>*>{"harmful", &e.harmful},
                                    {"harmless", &e.harmless}})
    for (const auto& c : *conds)
      table.push_back({name, condition_label(c.name, name == "harmful"),
                       pct(c.refusal_rate()), format_number(c.mean_score(), "%.2f"), pct(c.judge_rate())});
  html.heading("Refusal rates").table({"prompts", "condition", "refusal rate (substring)", "mean refusal score",
                                       "refusal rate (judge)"},
                                      table);
  html.paragraph("KL(baseline ‖ ablation) on harmless prompts, last position: " + format_number(e.kl));
  for (const char* svg : {"bypass_scores.svg", "induce_scores.svg", "kl_scores.svg"}) {
    std::FILE* f = std::fopen((out_dir + "/" + svg).c_str(), "rb");
    if (!f) continue;
    std::string text;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
    html.svg(text);
  }
  html.heading("Example completions");
  for (const auto& [name, conds, prompts] :
       {std::tuple<std::string, const std::vector<RefusalCondition>*, const std::vector<std::string>*>{
            "harmful", &e.harmful, &e.harmful_prompts},
        {"harmless", &e.harmless, &e.harmless_prompts}}) {
    size_t shown = std::min<size_t>(prompts->size(), 4);
    for (size_t i = 0; i < shown; ++i) {
      html.heading(name + ": " + (*prompts)[i], 3);
      std::vector<std::vector<std::string>> ex;
      for (const auto& c : *conds) ex.push_back({c.name, c.completions[i], c.refused_substring[i] < 0   ? "no verdict"
                                                       : c.refused_substring[i] ? "refused"
                                                                                : ""});
      html.table({"condition", "completion", "substring judge"}, ex);
    }
  }
  html.write(out_dir + "/report.html");
  folder.commit();
}

}  // namespace steer
