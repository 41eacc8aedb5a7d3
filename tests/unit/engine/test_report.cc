// The report layer (report/report.h): SVG charts are well-formed XML with their names and
// labels, non-finite values make gaps and never "nan"/"inf" text, ticks are 1-2-5 values that
// cover the range, CSV round-trips through the project's own reader, HTML escapes its text.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "steer/error.h"
#include "steer/json_text.h"
#include "data/csv.h"
#include "report/report.h"
#include "test_errors.h"

namespace steer {
namespace {

using test::error_of;

// A small XML checker: tags balance and nest, attributes are quoted, text has no bare '<' or
// '&' outside entities. Returns "" when well-formed, else what is wrong.
std::string xml_problem(const std::string& s) {
  std::vector<std::string> stack;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '&') {
      size_t semi = s.find(';', i);
      if (semi == std::string::npos || semi - i > 8) return "bare & at " + std::to_string(i);
      i = semi + 1;
      continue;
    }
    if (s[i] != '<') {
      ++i;
      continue;
    }
    size_t end = s.find('>', i);
    if (end == std::string::npos) return "unclosed tag at " + std::to_string(i);
    std::string tag = s.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.rfind("!DOCTYPE", 0) == 0 || tag[0] == '?') continue;
    if (tag[0] == '/') {
      std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) return "unexpected </" + name + ">";
      stack.pop_back();
      continue;
    }
    bool self = tag.back() == '/';
    if (self) tag.pop_back();
    std::string name = tag.substr(0, tag.find_first_of(" \n\t"));
    // Attributes: name="value" pairs only.
    std::string attrs = tag.substr(name.size());
    static const std::regex kAttr(R"(^(\s+[A-Za-z_:][-A-Za-z0-9_:.]*="[^"<]*")*\s*$)");
    if (!std::regex_match(attrs, kAttr)) return "bad attributes in <" + name + ">: " + attrs;
    if (!self && name != "meta") stack.push_back(name);
  }
  return stack.empty() ? "" : "unclosed <" + stack.back() + ">";
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

LineChart example_chart() {
  LineChart c;
  c.title = "Refusal score by layer <ablation & addition>";
  c.x_label = "layer";
  c.y_label = "refusal score";
  Series a{"bypass: harmful, ablated", {}, {}}, b{"induce: harmless, +r", {}, {}};
  for (int l = 0; l < 24; ++l) {
    a.x.push_back(l);
    a.y.push_back(l == 7 ? NAN : 4.0 * std::cos(l / 5.0) - 1.5);
    b.x.push_back(l);
    b.y.push_back(l == 12 ? INFINITY : -6.0 + 0.5 * l);
  }
  c.series = {a, b};
  c.hlines = {{"baseline (harmful)", 3.2}, {"baseline (harmless)", -5.5}};
  return c;
}

TEST(NiceTicks, OneTwoFiveStepsCoveringTheRange) {
  auto is125 = [](double step) {
    double m = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    return std::abs(m - 1) < 1e-9 || std::abs(m - 2) < 1e-9 || std::abs(m - 5) < 1e-9;
  };
  const std::vector<std::pair<double, double>> ranges = {{0, 23}, {-3.7, 12.2}, {0.001, 0.0047}, {-1e5, 3e5},
                                                         {0.1, 0.3}, {5, 5}, {-0.02, 0}, {17, 1}};
  for (const auto& [lo, hi] : ranges) {
    for (int target : {2, 5, 8}) {
      std::vector<double> t = nice_ticks(lo, hi, target);
      ASSERT_GE(t.size(), 2u);
      EXPECT_LE(t.front(), std::min(lo, hi)) << lo << " " << hi;
      EXPECT_GE(t.back(), std::max(lo, hi)) << lo << " " << hi;
      double step = t[1] - t[0];
      EXPECT_TRUE(is125(step)) << step;
      for (size_t i = 1; i < t.size(); ++i) EXPECT_NEAR(t[i] - t[i - 1], step, step * 1e-9);
      EXPECT_LE(t.size(), size_t(2 * target + 2));
    }
  }
  EXPECT_EQ(nice_ticks(0, 10, 6), std::vector<double>({0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(nice_ticks(0, 23, 6), std::vector<double>({0, 5, 10, 15, 20, 25}));
  EXPECT_EQ(nice_ticks(NAN, 1, 6), std::vector<double>({0, 1}));
  // A range of pure rounding (a vector's cosine with itself, 1 ± 1e-16) is one value, and the
  // ticks are few and around it (this once looped until memory ran out).
  std::vector<double> t = nice_ticks(1.0 - 1e-16, 1.0 + 2e-16, 6);
  EXPECT_LE(t.size(), 14u);
  EXPECT_LE(t.front(), 1.0);
  EXPECT_GE(t.back(), 1.0);
  EXPECT_EQ(format_tick(0.30000000000000004, 0.1), "0.3");
  EXPECT_EQ(format_tick(-1e-17, 0.1), "0");
  EXPECT_EQ(format_tick(15, 5), "15");
  EXPECT_EQ(format_tick(0.05, 0.05), "0.05");
  EXPECT_EQ(format_tick(2e6, 5e5), "2e+06");
}

TEST(LineChartSvg, WellFormedWithNamesLabelsAndGaps) {
  std::string svg = render_svg(example_chart());
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("viewBox=\"0 0 720 420\""), std::string::npos);
  for (const char* s : {"bypass: harmful, ablated", "induce: harmless, +r", "baseline (harmful)", "layer",
                        "refusal score", "Refusal score by layer &lt;ablation &amp; addition&gt;"})
    EXPECT_NE(svg.find(s), std::string::npos) << s;
  for (const char* bad : {"nan", "inf", "NaN", "Inf"}) EXPECT_EQ(svg.find(bad), std::string::npos) << bad;
  // Each series has one gap, so two line runs each: four paths plus the axis path.
  EXPECT_EQ(count(svg, "<path d=\"M"), 5u);
  EXPECT_EQ(count(svg, "stroke-dasharray"), 4u);  // two reference lines + their legend samples
}

TEST(LineChartSvg, EdgeCases) {
  LineChart empty;
  EXPECT_EQ(xml_problem(render_svg(empty)), "");
  LineChart allnan;
  allnan.series = {{"s", {0, 1, 2}, {NAN, NAN, -INFINITY}}};
  std::string s = render_svg(allnan);
  EXPECT_EQ(xml_problem(s), "");
  EXPECT_EQ(s.find("nan"), std::string::npos);
  EXPECT_EQ(count(s, "<circle"), 1u);  // the legend's sample only: no data point is drawn
  // An isolated point between gaps still shows, even without markers.
  LineChart lone;
  lone.markers = false;
  lone.series = {{"s", {0, 1, 2, 3}, {1, NAN, 2, NAN}}};
  EXPECT_EQ(count(render_svg(lone), "<circle"), 2u);
  // Integer data (layers 0–3) gets integer ticks only; fractional data keeps its 0.5 steps.
  LineChart layers;
  layers.series = {{"s", {0, 1, 2, 3}, {0.25, 0.5, 0.75, 1.0}}};
  std::string ls = render_svg(layers);
  EXPECT_NE(ls.find(">0.5</text>"), std::string::npos);   // a y tick
  EXPECT_NE(ls.find(">3</text>"), std::string::npos);     // an x tick
  EXPECT_EQ(ls.find(">1.5</text>"), std::string::npos);   // no fractional x tick
  EXPECT_EQ(ls.find(">2.5</text>"), std::string::npos);
  LineChart bad;
  bad.series = {{"mismatch", {0, 1}, {1}}};
  EXPECT_NE(error_of([&] { render_svg(bad); }).find("\"mismatch\" has 2 x values but 1 y values"), std::string::npos);
}

TEST(HeatmapSvg, DivergingSequentialAnnotationsAndGaps) {
  Heatmap h;
  h.title = "KL by layer and position";
  h.row_labels = {"layer 0", "layer 1", "layer 2"};
  h.col_labels = {"-3", "-2", "-1"};
  h.values = {{-1.5, 0.0, 2.0}, {0.25, NAN, -0.75}, {1.0, 0.5, -2.0}};
  std::string svg = render_svg(h);
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_NE(svg.find(">-1.50</text>"), std::string::npos);  // annotated with value_format
  EXPECT_NE(svg.find(">0.00</text>"), std::string::npos);
  EXPECT_NE(svg.find("#f7f7f7"), std::string::npos);  // 0 is the diverging map's white centre
  EXPECT_NE(svg.find("#b2182b"), std::string::npos);  // +max is full red
  EXPECT_NE(svg.find("#2166ac"), std::string::npos);  // -max is full blue
  EXPECT_NE(svg.find("#d9d9d9"), std::string::npos);  // the NaN cell is grey
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  for (const char* s : {"layer 2", "KL by layer and position", ">-2<"}) EXPECT_NE(svg.find(s), std::string::npos) << s;

  Heatmap seq = h;
  seq.values = {{0.0, 0.1, 0.2}, {0.3, 0.4, 0.5}, {0.6, 0.7, 0.8}};
  std::string s2 = render_svg(seq);
  EXPECT_EQ(xml_problem(s2), "");
  EXPECT_NE(s2.find("#f7fbff"), std::string::npos);  // sequential: lightest at the minimum
  EXPECT_NE(s2.find("#08306b"), std::string::npos);  // darkest at the maximum
  EXPECT_EQ(s2.find("#b2182b"), std::string::npos);
  EXPECT_NE(s2.find("fill=\"url(#steer-cmap-blues)\""), std::string::npos);
  EXPECT_NE(svg.find("fill=\"url(#steer-cmap-rdbu)\""), std::string::npos);
  Heatmap neg = seq;  // all ≤ 0: dark = most negative
  for (auto& row : neg.values)
    for (double& v : row) v = -v;
  std::string s4 = render_svg(neg);
  EXPECT_NE(s4.find("url(#steer-cmap-blues-r)"), std::string::npos);
  EXPECT_NE(s4.find("<title>layer 2 / -1: -0.80</title></rect>"), std::string::npos);
  EXPECT_NE(s4.find("fill=\"#08306b\"><title>layer 2 / -1"), std::string::npos);

  Heatmap big;  // many small cells: no annotations
  for (int r = 0; r < 30; ++r) big.values.push_back(std::vector<double>(40, double(r)));
  std::string s3 = render_svg(big);
  EXPECT_EQ(xml_problem(s3), "");
  EXPECT_EQ(s3.find("class=\"values\""), std::string::npos);

  EXPECT_EQ(xml_problem(render_svg(Heatmap{})), "");  // empty: a frame, no crash
  Heatmap allnan = h;
  for (auto& row : allnan.values) row.assign(3, NAN);
  EXPECT_EQ(render_svg(allnan).find("nan"), std::string::npos);

  Heatmap ragged = h;
  ragged.values[1].pop_back();
  EXPECT_NE(error_of([&] { render_svg(ragged); }).find("row 1 has 2 values"), std::string::npos);
  Heatmap fmt = h;
  fmt.value_format = "%s";
  EXPECT_NE(error_of([&] { render_svg(fmt); }).find("value format"), std::string::npos);
  fmt.value_format = "%.0f%%";
  EXPECT_NE(render_svg(fmt).find(">-2%</text>"), std::string::npos);
}

TEST(BarChartSvg, GroupedBars) {
  BarChart b;
  b.title = "Refusal rate";
  b.y_label = "fraction refused";
  b.categories = {"harmful", "harmless", "jailbreak"};
  b.series = {{"baseline", {0.9, 0.02, 0.4}}, {"ablated", {0.05, NAN, -0.1}}};
  std::string svg = render_svg(b);
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_EQ(count(svg, "<rect x=") - 1 /*background*/ - 2 /*legend*/, 5u);  // the NaN bar is absent
  for (const char* s : {"baseline", "ablated", "jailbreak", "fraction refused"}) EXPECT_NE(svg.find(s), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(xml_problem(render_svg(BarChart{})), "");
  b.series[0].values.pop_back();
  EXPECT_NE(error_of([&] { render_svg(b); }).find("has 2 values for 3 categories"), std::string::npos);
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("steer-report-" + std::to_string(::getpid()) + "-" + name)).string();
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Csv, QuotingRoundTripsThroughTheProjectReader) {
  const std::vector<std::string> header = {"prompt", "completion", "score"};
  const std::vector<std::vector<std::string>> rows = {
      {"plain", "text", "1.5"},
      {"with, comma", "with \"quotes\"", "-2"},
      {"line\nbreak", "crlf\r\nbreak", ""},
      {"", " spaces ", "x"},
  };
  std::string path = temp_path("t.csv");
  write_csv(path, header, rows);
  std::string bytes = read(path);
  EXPECT_EQ(bytes.substr(0, 26), "prompt,completion,score\r\np");
  EXPECT_NE(bytes.find("\"with, comma\",\"with \"\"quotes\"\"\",-2\r\n"), std::string::npos);
  CsvTable t = parse_csv(bytes, path);
  EXPECT_EQ(t.header, header);
  ASSERT_EQ(t.rows.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(t.rows[i].fields, rows[i]) << i;
  // One empty column still round-trips (quoted, so it is not a blank line).
  CsvTable one = parse_csv(csv_text({"a"}, {{""}, {"b"}}), "one");
  ASSERT_EQ(one.rows.size(), 2u);
  EXPECT_EQ(one.rows[0].fields[0], "");
  EXPECT_NE(error_of([&] { write_csv(path, header, {{"a", "b"}}); }).find("row 1 has 2 fields, the header 3"),
            std::string::npos);
  EXPECT_EQ(read(path), bytes);  // the failed write left the file as it was
  std::filesystem::remove(path);
  EXPECT_NE(error_of([] { write_csv("/nonexistent/dir/x.csv", {"a"}, {}); }).find("/nonexistent/dir/x.csv"),
            std::string::npos);
}

TEST(Html, EscapesTextAndIsSelfContained) {
  EXPECT_EQ(html_escape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  LineChart c = example_chart();
  HtmlReport r("Report <1> & \"2\"");
  r.heading("Results <b>", 2)
      .heading("deep", 9)
      .paragraph("a < b & c > \"d\"")
      .table({"k", "<v>"}, {{"x&y", "1"}, {"short"}})
      .svg(render_svg(c))
      .pre("<script>alert(1)</script>");
  std::string html = r.str();
  EXPECT_EQ(xml_problem(html), "") << html;
  EXPECT_NE(html.find("<title>Report &lt;1&gt; &amp; &quot;2&quot;</title>"), std::string::npos);
  EXPECT_NE(html.find("<h2>Results &lt;b&gt;</h2>"), std::string::npos);
  EXPECT_NE(html.find("<h6>deep</h6>"), std::string::npos);
  EXPECT_NE(html.find("<p>a &lt; b &amp; c &gt; &quot;d&quot;</p>"), std::string::npos);
  EXPECT_NE(html.find("<th>&lt;v&gt;</th>"), std::string::npos);
  EXPECT_NE(html.find("<td>short</td><td></td>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://", html.find("</svg>")), std::string::npos);  // nothing external
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_NE(error_of([&] { HtmlReport("x").table({"a"}, {{"1", "2"}}); }).find("row 1 has 2 cells"), std::string::npos);
  std::string path = temp_path("r.html");
  r.write(path);
  EXPECT_EQ(read(path), html);
  std::filesystem::remove(path);
}

// Text that is not valid UTF-8 (a completion cut inside an emoji, a model path with a Latin-1
// byte) reaches every report file as U+FFFD, never as a bad byte (issue 16, class 3).
TEST(ReportText, InvalidUtf8BecomesReplacementCharacter) {
  const std::string cut = "smile \xF0\x9F\x98", fffd = "\xEF\xBF\xBD";
  const std::string csv = csv_text({"completion"}, {{cut}, {"caf\xE9, ok"}});
  EXPECT_TRUE(is_valid_utf8(csv));
  CsvTable t = parse_csv(csv, "t.csv");
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].fields[0], "smile " + fffd + fffd + fffd);
  EXPECT_EQ(t.rows[1].fields[0], "caf" + fffd + ", ok");
  EXPECT_EQ(html_escape("<" + cut), "&lt;smile " + fffd + fffd + fffd);
  HtmlReport r("model caf\xE9.gguf");
  r.paragraph(cut).table({"a"}, {{cut}});
  EXPECT_TRUE(is_valid_utf8(r.str()));
  LineChart c = example_chart();
  c.title = cut;
  c.series[0].name = "\xFF";
  const std::string svg = render_svg(c);
  EXPECT_TRUE(is_valid_utf8(svg));
  EXPECT_EQ(xml_problem(svg), "");
}

// Renders the example charts as files — into STEER_REPORT_EXAMPLES=dir for a person to look at,
// else into a temporary folder — and checks each file holds one whole SVG document.
TEST(ReportExamples, WriteExampleFiles) {
  const char* env = std::getenv("STEER_REPORT_EXAMPLES");
  const std::string dir = env ? std::string(env)
                              : (std::filesystem::temp_directory_path() /
                                 ("steer-report-examples-" + std::to_string(::getpid())))
                                    .string();
  std::filesystem::create_directories(dir);
  write_text_file_atomic(dir + "/line.svg", render_svg(example_chart()));
  Heatmap h;
  h.title = "Refusal score change by layer and position";
  h.x_label = "position";
  h.y_label = "layer";
  for (int p = -5; p <= -1; ++p) h.col_labels.push_back(std::to_string(p));
  for (int l = 0; l < 12; ++l) {
    h.row_labels.push_back(std::to_string(l));
    std::vector<double> row;
    for (int p = 0; p < 5; ++p) row.push_back(l == 3 && p == 2 ? NAN : std::sin(l * 0.6 + p) * (l + 1) / 6.0);
    h.values.push_back(row);
  }
  write_text_file_atomic(dir + "/heatmap.svg", render_svg(h));
  BarChart b;
  b.title = "Refusal rate (substring judge)";
  b.y_label = "fraction refused";
  b.categories = {"harmful baseline", "harmful ablated", "harmless baseline", "harmless +r"};
  b.series = {{"model A", {0.81, 0.06, 0.02, 0.94}}, {"model B", {0.97, 0.12, 0.01, 0.88}},
              {"model C", {0.66, 0.2, 0.05, 0.71}}};  // made-up values: a rendering example
  write_text_file_atomic(dir + "/bars.svg", render_svg(b));
  for (const char* name : {"line.svg", "heatmap.svg", "bars.svg"}) {
    std::ifstream in(dir + "/" + name);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text.rfind("<svg", 0), 0u) << name;
    EXPECT_NE(text.find("</svg>"), std::string::npos) << name;
  }
  if (!env) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace steer
