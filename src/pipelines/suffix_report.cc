// The suffix run folder (contract in include/steer/suffix.h).
#include <cstdio>

#include "io/run_folder.h"
#include "pipelines/refusal_report.h"
#include "report/report.h"
#include "steer/error.h"
#include "steer/suffix.h"

namespace steer {
namespace {

const std::vector<std::string> kSpans = {"template head", "instruction", "suffix", "template tail"};

std::string head_name(int layer, int head) { return "L" + std::to_string(layer) + "H" + std::to_string(head); }

nlohmann::json interval_json(const Interval& i) { return {{"mean", i.mean}, {"ci95", {i.lo, i.hi}}}; }

std::string with_interval(const Interval& i) {
  return format_number(i.mean, "%.3f") + " [" + format_number(i.lo, "%.3f") + ", " + format_number(i.hi, "%.3f") + "]";
}

}  // namespace

void write_suffix_run(const SuffixRun& run, const std::string& out) {
  RunFolder folder(out, "suffix");  // all or nothing
  const std::string dir = folder.path();
  const int L = run.n_layers, H = run.n_heads;
  // Writes one chart into the folder and returns it for the HTML page.
  auto write_svg = [&dir](const std::string& name, std::string svg) {
    write_text_file_atomic(dir + "/" + name + ".svg", svg);
    return svg;
  };

  nlohmann::json summary;
  summary["n_prompts"] = run.n_prompts;
  summary["suffixes"] = run.suffix_names;
  nlohmann::json top = nlohmann::json::array();
  for (const HeadScore& h : run.top_heads) {
    top.push_back({{"layer", h.layer},
                   {"head", h.head},
                   {"suppression", h.suppression.mean},
                   {"suppression_ci95", {h.suppression.lo, h.suppression.hi}},
                   {"projection_plain", h.plain},
                   {"projection_suffixed", h.suffixed},
                   {"dla_plain", h.dla_plain},
                   {"dla_suffixed", h.dla_suffixed},
                   {"attention_plain", h.attention_plain},
                   {"attention_suffixed", h.attention_suffixed}});
  }
  summary["top_heads"] = top;
  summary["attention_spans"] = kSpans;
  summary["refusal_score"] = {{"plain", interval_json(run.refusal_plain)}, {"rate_plain", run.refusal_rate_plain}};
  nlohmann::json per_suffix = nlohmann::json::array();
  for (size_t s = 0; s < run.suffix_names.size(); ++s)
    per_suffix.push_back({{"name", run.suffix_names[s]},
                          {"score", interval_json(run.refusal_suffixed[s])},
                          {"rate", run.refusal_rate_suffixed[s]}});
  summary["refusal_score"]["suffixed"] = per_suffix;
  summary["residual_projection"] = {{"plain", interval_json(run.resid_plain)},
                                    {"suffixed", interval_json(run.resid_suffixed)}};
  summary["embed_projection"] = {{"plain", run.embed_plain}, {"suffixed", run.embed_suffixed}};
  summary["metadata"] = run.metadata;
  write_json_file(summary, dir + "/summary.json");

  std::vector<std::vector<std::string>> head_rows, layer_rows;
  for (int l = 0; l < L; ++l) {
    for (int h = 0; h < H; ++h) {
      const size_t li = size_t(l), hi = size_t(h);
      head_rows.push_back({std::to_string(l), std::to_string(h), format_number(run.head_plain[li][hi]),
                           format_number(run.head_suffixed[li][hi]), format_number(run.head_suppression[li][hi]),
                           format_number(run.head_dla_plain[li][hi]), format_number(run.head_dla_suffixed[li][hi])});
    }
    const size_t li = size_t(l);
    layer_rows.push_back({std::to_string(l), format_number(run.attn_plain[li]), format_number(run.attn_suffixed[li]),
                          format_number(run.mlp_plain[li]), format_number(run.mlp_suffixed[li]),
                          format_number(run.mlp_dla_plain[li]), format_number(run.mlp_dla_suffixed[li])});
  }
  write_csv(dir + "/heads.csv",
            {"layer", "head", "projection_plain", "projection_suffixed", "suppression", "dla_plain", "dla_suffixed"},
            head_rows);
  write_csv(dir + "/layers.csv",
            {"layer", "attn_plain", "attn_suffixed", "mlp_plain", "mlp_suffixed", "mlp_dla_plain", "mlp_dla_suffixed"},
            layer_rows);

  Heatmap supp;
  supp.title = "Suppression of each head's refusal-direction projection by the suffix (plain − suffixed)";
  supp.x_label = "head";
  supp.y_label = "layer";
  for (int h = 0; h < H; ++h) supp.col_labels.push_back(std::to_string(h));
  for (int l = 0; l < L; ++l) supp.row_labels.push_back(std::to_string(l));
  supp.values = run.head_suppression;
  const std::string supp_svg = write_svg("suppression", render_svg(supp));

  LineChart comp;
  comp.title = "What each layer writes along the refusal direction (last token)";
  comp.x_label = "layer";
  comp.y_label = "projection on the unit direction";
  std::vector<double> layers;
  for (int l = 0; l < L; ++l) layers.push_back(l);
  comp.series = {{"attention, plain", layers, run.attn_plain},
                 {"attention, suffixed", layers, run.attn_suffixed},
                 {"MLP, plain", layers, run.mlp_plain},
                 {"MLP, suffixed", layers, run.mlp_suffixed}};
  const std::string comp_svg = write_svg("components", render_svg(comp));

  Heatmap att;
  att.title = "Top heads: the last token's attention by span";
  att.x_label = "span";
  att.y_label = "head";
  att.col_labels = kSpans;
  for (const HeadScore& h : run.top_heads) {
    att.row_labels.push_back(head_name(h.layer, h.head) + " plain");
    att.values.push_back(h.attention_plain);
    att.row_labels.push_back(head_name(h.layer, h.head) + " suffixed");
    att.values.push_back(h.attention_suffixed);
  }
  const std::string att_svg = write_svg("attention", render_svg(att));

  Heatmap tok;
  tok.title = "Top heads' attention from the last token, first prompt with " +
              (run.suffix_names.empty() ? std::string("the suffix") : run.suffix_names[0]);
  tok.x_label = "token";
  tok.y_label = "head";
  tok.value_format = "%.2f";
  for (size_t t = 0; t < run.example_tokens.size(); ++t) {
    const PromptSpans& s = run.example_spans;
    const int64_t p = int64_t(t);
    const char* mark = p >= s.suffix_begin && p < s.suffix_end ? "*" : "";
    tok.col_labels.push_back(std::string(mark) + run.example_tokens[t]);
  }
  for (size_t k = 0; k < run.top_heads.size(); ++k) {
    tok.row_labels.push_back(head_name(run.top_heads[k].layer, run.top_heads[k].head));
    tok.values.push_back(run.example_attention[k]);
  }
  const std::string tok_svg = write_svg("attention_tokens", render_svg(tok));

  HtmlReport html("Adversarial suffix analysis — " + run.metadata.value("model", nlohmann::json::object()).value("path", ""));
  html.paragraph(std::to_string(run.n_prompts) + " harmful prompts, with and without " +
                 std::to_string(run.suffix_names.size()) + " suffix(es). First-token refusal score (> 0: likely refuses): " +
                 "plain " + with_interval(run.refusal_plain) + ".");
  std::vector<std::vector<std::string>> r_rows = {
      {"plain", with_interval(run.refusal_plain), format_number(run.refusal_rate_plain, "%.2f")}};
  for (size_t s = 0; s < run.suffix_names.size(); ++s)
    r_rows.push_back({run.suffix_names[s], with_interval(run.refusal_suffixed[s]),
                      format_number(run.refusal_rate_suffixed[s], "%.2f")});
  html.heading("Does the suffix stop refusals?").table({"prompts", "refusal score [95% CI]", "share > 0"}, r_rows);
  html.paragraph("Projection of the final residual stream on the refusal direction: plain " +
                 with_interval(run.resid_plain) + ", suffixed " + with_interval(run.resid_suffixed) + ".");
  html.heading("Heads the suffix suppresses").svg(supp_svg);
  std::vector<std::vector<std::string>> t_rows;
  for (const HeadScore& h : run.top_heads)
    t_rows.push_back({head_name(h.layer, h.head), with_interval(h.suppression), format_number(h.plain, "%.3f"),
                      format_number(h.suffixed, "%.3f"), format_number(h.dla_plain, "%.3f"),
                      format_number(h.dla_suffixed, "%.3f"), format_number(h.attention_suffixed[2], "%.2f"),
                      format_number(h.attention_suffixed[1], "%.2f"), format_number(h.attention_plain[1], "%.2f")});
  html.table({"head", "suppression [95% CI]", "proj. plain", "proj. suffixed", "DLA plain", "DLA suffixed",
              "attn → suffix", "attn → instruction (suffixed)", "attn → instruction (plain)"},
             t_rows);
  html.heading("Layers").svg(comp_svg);
  html.heading("Where the top heads look").svg(att_svg).svg(tok_svg);
  html.paragraph("Tokens marked * belong to the suffix.");
  html.write(dir + "/report.html");
  folder.commit();
}

}  // namespace steer
