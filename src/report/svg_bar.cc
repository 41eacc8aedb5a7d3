// Grouped bar charts as self-contained SVG: one group per category, one bar per series in
// palette order, a y axis that always includes 0, the legend in a column on the right.
// See report/report.h.
#include <algorithm>
#include <cmath>

#include "steer/error.h"
#include "report/svg_util.h"
#include "report/report.h"

namespace steer {

std::string render_svg(const BarChart& chart) {
  const size_t K = chart.categories.size();
  for (const BarSeries& s : chart.series)
    if (s.values.size() != K)
      fail("bar chart \"" + chart.title + "\": series \"" + s.name + "\" has " + std::to_string(s.values.size()) +
           " values for " + std::to_string(K) + " categories");
  const double W = std::max(chart.width, 200), H = std::max(chart.height, 150);

  std::vector<double> all = {0.0};  // bars grow from 0, so 0 is always on the axis
  for (const BarSeries& s : chart.series) all.insert(all.end(), s.values.begin(), s.values.end());
  double lo, hi;
  svg::finite_range(all, &lo, &hi);

  bool any_name = false;
  double legend_text = 0;
  for (const BarSeries& s : chart.series) {
    any_name = any_name || !s.name.empty();
    legend_text = std::max(legend_text, svg::text_width(s.name, 12));
  }
  legend_text = std::min(legend_text, W * 0.3);
  const double right = any_name ? legend_text + 20 + 40 : 20;
  const double top = chart.title.empty() ? 16 : 44;

  std::vector<double> yt = nice_ticks(lo, hi, 6);
  const double ystep = yt[1] - yt[0];
  double y_tick_w = 0;
  for (double v : yt) y_tick_w = std::max(y_tick_w, svg::text_width(format_tick(v, ystep), 12));
  const double left = 10 + (chart.y_label.empty() ? 0 : 24) + y_tick_w + 8;
  const double x0 = left, x1 = W - right;
  const double group_w = K ? (x1 - x0) / double(K) : (x1 - x0);
  double cat_w = 0;
  for (const auto& c : chart.categories) cat_w = std::max(cat_w, svg::text_width(c, 12));
  const bool turn = cat_w > group_w - 6;
  const double bottom = turn ? cat_w * 0.71 + 22 : 32;
  const double y0 = top, y1 = H - bottom;
  const double dlo = yt.front(), dhi = yt.back();
  auto py = [&](double y) { return y1 - (y - dlo) / (dhi - dlo) * (y1 - y0); };

  std::string s = svg::open(int(W), int(H), chart.title);
  s += "<g class=\"grid\" stroke=\"" + std::string(svg::kGrid) + "\" stroke-width=\"1\">\n";
  for (double v : yt)
    s += "<line x1=\"" + svg::num(x0) + "\" y1=\"" + svg::num(py(v)) + "\" x2=\"" + svg::num(x1) + "\" y2=\"" +
         svg::num(py(v)) + "\"/>\n";
  s += "</g>\n<g class=\"ticks\">\n";
  for (double v : yt) s += svg::text(x0 - 8, py(v) + 4, format_tick(v, ystep), 12, "end", svg::kMuted);
  s += "</g>\n";

  // Bars: the group takes 80 % of its slot, split evenly between the series.
  const size_t n = std::max<size_t>(chart.series.size(), 1);
  const double bar_w = group_w * 0.8 / double(n);
  s += "<g class=\"bars\">\n";
  for (size_t k = 0; k < K; ++k)
    for (size_t i = 0; i < chart.series.size(); ++i) {
      double v = chart.series[i].values[k];
      if (!std::isfinite(v)) continue;
      double x = x0 + k * group_w + group_w * 0.1 + i * bar_w;
      double ya = py(std::max(v, 0.0)), yb = py(std::min(v, 0.0));
      s += "<rect x=\"" + svg::num(x + 1) + "\" y=\"" + svg::num(ya) + "\" width=\"" +
           svg::num(std::max(bar_w - 2, 1.0)) + "\" height=\"" + svg::num(std::max(yb - ya, 0.5)) + "\" fill=\"" +
           svg::colour(i) + "\"><title>" + svg::esc(chart.series[i].name + " / " + chart.categories[k] + ": ") +
           svg::esc(format_tick(v, std::abs(v) > 0 ? std::abs(v) / 1000 : 1)) + "</title></rect>\n";
    }
  s += "</g>\n";
  // The baseline at 0 and the y axis.
  s += "<line x1=\"" + svg::num(x0) + "\" y1=\"" + svg::num(py(0)) + "\" x2=\"" + svg::num(x1) + "\" y2=\"" +
       svg::num(py(0)) + "\" stroke=\"#888888\" stroke-width=\"1\"/>\n";
  s += "<line x1=\"" + svg::num(x0) + "\" y1=\"" + svg::num(y0) + "\" x2=\"" + svg::num(x0) + "\" y2=\"" +
       svg::num(y1) + "\" stroke=\"#888888\" stroke-width=\"1\"/>\n";

  s += "<g class=\"labels\">\n";
  for (size_t k = 0; k < K; ++k) {
    double cx = x0 + (k + 0.5) * group_w;
    if (turn)
      s += svg::text(0, 0, chart.categories[k], 12, "end", svg::kMuted,
                     "transform=\"translate(" + svg::num(cx + 3) + " " + svg::num(y1 + 14) + ") rotate(-45)\"");
    else
      s += svg::text(cx, y1 + 18, chart.categories[k], 12, "middle", svg::kMuted);
  }
  s += "</g>\n";

  if (any_name) {
    s += "<g class=\"legend\">\n";
    for (size_t i = 0; i < chart.series.size(); ++i) {
      double y = y0 + 8 + 18 * i;
      s += "<rect x=\"" + svg::num(x1 + 20) + "\" y=\"" + svg::num(y - 6) + "\" width=\"12\" height=\"12\" fill=\"" +
           svg::colour(i) + "\"/>\n";
      s += svg::text(x1 + 38, y + 4, chart.series[i].name, 12, "start", svg::kInk);
    }
    s += "</g>\n";
  }
  if (!chart.title.empty()) s += svg::text(x0, 26, chart.title, 15, "start", svg::kInk, "font-weight=\"bold\"");
  if (!chart.y_label.empty())
    s += svg::text(0, 0, chart.y_label, 13, "middle", svg::kInk,
                   "transform=\"translate(18 " + svg::num((y0 + y1) / 2) + ") rotate(-90)\"");
  return s + "</svg>\n";
}

}  // namespace steer
