// Reports for people: SVG charts (line, heatmap, grouped bars), CSV tables and a
// self-contained HTML page, all written atomically. Plain std types only — no tensors — so a
// report can be built from any results.
//
//   steer::LineChart chart;
//   chart.title = "Refusal score by layer";
//   chart.x_label = "layer";
//   chart.y_label = "refusal score";
//   chart.series = {{"bypass (harmful, ablated)", layers, bypass}};
//   chart.hlines = {{"baseline", 3.1}};
//   steer::HtmlReport("refusal direction").heading("Selection").svg(steer::render_svg(chart))
//       .table({"layer", "pos", "kl"}, rows).write("report.html");
//   steer::write_csv("selection.csv", {"layer", "pos", "kl"}, rows);
//
// Charts: white background, light grid, 12–13 px sans-serif text, the Okabe–Ito colour-blind-
// safe palette, legends outside the plotting area, tick values on 1-2-5 steps, a viewBox so
// they scale. A non-finite value (NaN, ±inf) is a gap: a line breaks there, a bar or cell is
// left empty; such values never reach the SVG text. Every string is XML-escaped.
//
// Failure: render_svg throws steer::Error when a series' x and y differ in length, or a
// heatmap row / bar series has the wrong number of values; the writers throw steer::Error
// naming the path when it cannot be written (the old file, if any, is left as it was).
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace steer {

// ---- charts ------------------------------------------------------------------------------

struct Series {
  std::string name;
  std::vector<double> x, y;  // equal lengths; non-finite x or y breaks the line there
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  std::vector<std::pair<std::string, double>> hlines;  // labelled dashed reference lines
  bool markers = true;          // a dot at every point (isolated points always get one)
  int width = 720, height = 420;
};
std::string render_svg(const LineChart& chart);

struct Heatmap {
  std::string title, x_label, y_label;
  std::vector<std::string> row_labels, col_labels;
  std::vector<std::vector<double>> values;  // [row][col]; non-finite cells are drawn grey
  std::string value_format = "%.2f";         // printf format of one double, for annotations
  // Colours: a diverging blue–white–red map centred at 0 (symmetric in |v|) when the finite
  // values have both signs, else a light-to-dark sequential map (dark = largest |v|).
  // Cells are annotated with their value when they are large enough to hold the text.
};
std::string render_svg(const Heatmap& heatmap);

struct BarSeries {
  std::string name;
  std::vector<double> values;  // one per category; non-finite: no bar
};

struct BarChart {
  std::string title, y_label;
  std::vector<std::string> categories;
  std::vector<BarSeries> series;  // bars of one category sit side by side, in series order
  int width = 720, height = 420;
};
std::string render_svg(const BarChart& chart);

// Tick values on a 1-2-5 step that cover [lo, hi]: the first ≤ lo, the last ≥ hi, about
// `target` of them (never fewer than 2). lo == hi gets a unit-wide range around the value;
// non-finite bounds give {0, 1}.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);
// A tick label with just the decimals the step needs ("0.25", "10", "1e+06"); never "-0".
std::string format_tick(double value, double step);

// ---- files -------------------------------------------------------------------------------

// Writes `text` to `path` atomically (readers see the old file or the whole new one).
void write_text_file_atomic(const std::string& path, const std::string& text);

// A number for a table cell or label with a printf format of one double ("%.4f"); "" for a
// non-finite value, so NaN never reaches a file as text.
std::string format_number(double value, const char* format = "%.4f");

// RFC 4180 CSV text: fields holding ',', '"', CR or LF are quoted with '"' doubled; records end
// in CRLF; bytes that are not valid UTF-8 become U+FFFD. Every row must have header.size() fields (steer::Error naming the row otherwise).
std::string csv_text(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
// csv_text written atomically to `path`.
void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows);

// ---- HTML --------------------------------------------------------------------------------

// & < > " ' as entities; bytes that are not valid UTF-8 become U+FFFD.
std::string html_escape(const std::string& text);

// A self-contained HTML page (inline CSS, no scripts, no external resources). Text is
// escaped; svg() inserts markup as given (for render_svg output).
class HtmlReport {
 public:
  explicit HtmlReport(std::string title);  // the page title and its <h1>
  HtmlReport& heading(const std::string& text, int level = 2);  // level clamped to 1..6
  HtmlReport& paragraph(const std::string& text);
  // Rows shorter than the header are padded with empty cells; longer ones are an error.
  HtmlReport& table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
  HtmlReport& svg(const std::string& svg_markup);
  HtmlReport& pre(const std::string& text);
  std::string str() const;
  void write(const std::string& path) const;  // atomic

 private:
  std::string title_;
  std::string body_;
};

}  // namespace steer
