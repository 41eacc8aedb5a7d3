// Line charts as self-contained SVG, and the 1-2-5 tick rule every chart uses. Layout: title
// above the plotting area, y tick labels left of it, x tick labels and the x label below it,
// the legend in a column to its right (never over the data). See report/report.h.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "steer/error.h"
#include "report/svg_util.h"
#include "report/report.h"

namespace steer {

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0.0, 1.0};
  if (lo > hi) std::swap(lo, hi);
  // A range that is all rounding (cosines of 1 ± 1e-16) is a single value: its ticks would be
  // ~1e16 steps from zero, where counting up by one step no longer moves.
  if (hi - lo <= 1e-9 * std::max(std::abs(lo), std::abs(hi))) {
    const double mid = lo / 2 + hi / 2;
    lo = mid - 0.5, hi = mid + 0.5;
  }
  target = std::max(target, 2);
  const double raw = (hi - lo) / (target - 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  // The 1-2-5 value nearest the raw step (Heckbert's thresholds), so the count stays near target.
  const double step = (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * mag;
  // Integer multiples of the step, so 0.1 + 0.2 noise never shows up in a label.
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double k = first; k <= last + 0.5; k += 1.0) ticks.push_back(k * step == 0 ? 0.0 : k * step);
  if (ticks.size() < 2) ticks.push_back((last + 1) * step);
  return ticks;
}

std::string format_tick(double value, double step) {
  if (!std::isfinite(value)) return "";
  step = std::abs(step);
  if (!(step > 0) || !std::isfinite(step)) step = 1;
  if (std::abs(value) < step * 1e-9) return "0";
  char buf[48];
  if (std::abs(value) >= 1e6 || step < 1e-4) {
    std::snprintf(buf, sizeof buf, "%g", value);
  } else {
    int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  }
  std::string s = buf;
  if (s == "-0" || s.find_first_not_of("-0.") == std::string::npos) return "0";
  return s;
}

namespace {

const std::vector<std::string> kRefDash = {"6 4", "2 3", "9 3 2 3"};

// Ticks for an axis; when every value on it is an integer (layers, counts) the step is at
// least 1, so a short range never gets "0.5" labels.
std::vector<double> axis_ticks(double lo, double hi, int target, bool integers) {
  std::vector<double> t = nice_ticks(lo, hi, target);
  if (!integers || t[1] - t[0] >= 1) return t;
  t.clear();
  for (double v = std::floor(lo); v <= std::ceil(hi) + 0.5; v += 1) t.push_back(v);
  if (t.size() < 2) t.push_back(t.back() + 1);
  return t;
}

// Legend rows: a sample of the line (and marker) and the name; `top` is the first row's centre.
struct LegendEntry {
  std::string name, colour, dash;
  bool marker;
};

std::string legend(const std::vector<LegendEntry>& entries, double x, double top, double max_text) {
  std::string s = "<g class=\"legend\">\n";
  double y = top;
  for (const LegendEntry& e : entries) {
    std::string name = e.name;
    // Long names are cut to the column rather than drawn over the plot.
    bool cut = false;
    while (name.size() > 1 && svg::text_width(name, 12) > max_text + 0.5) {
      while (name.size() > 1 && (static_cast<unsigned char>(name.back()) & 0xC0) == 0x80) name.pop_back();
      name.pop_back();
      cut = true;
      if (svg::text_width(name + "…", 12) <= max_text + 0.5) break;
    }
    if (cut) name += "…";
    s += "<line x1=\"" + svg::num(x) + "\" y1=\"" + svg::num(y) + "\" x2=\"" + svg::num(x + 22) + "\" y2=\"" +
         svg::num(y) + "\" stroke=\"" + e.colour + "\" stroke-width=\"2\"" +
         (e.dash.empty() ? "" : " stroke-dasharray=\"" + e.dash + "\"") + "/>\n";
    if (e.marker)
      s += "<circle cx=\"" + svg::num(x + 11) + "\" cy=\"" + svg::num(y) + "\" r=\"3\" fill=\"" + e.colour +
           "\" stroke=\"#ffffff\" stroke-width=\"1\"/>\n";
    s += svg::text(x + 28, y + 4, name, 12, "start", svg::kInk);
    y += 18;
  }
  return s + "</g>\n";
}

}  // namespace

std::string render_svg(const LineChart& chart) {
  for (const Series& s : chart.series)
    if (s.x.size() != s.y.size())
      fail("line chart \"" + chart.title + "\": series \"" + s.name + "\" has " + std::to_string(s.x.size()) +
           " x values but " + std::to_string(s.y.size()) + " y values");
  const double W = std::max(chart.width, 200), H = std::max(chart.height, 150);

  // Data ranges over finite points (both coordinates finite) and the reference lines.
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (const Series& s : chart.series)
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
        xlo = std::min(xlo, s.x[i]), xhi = std::max(xhi, s.x[i]);
        ylo = std::min(ylo, s.y[i]), yhi = std::max(yhi, s.y[i]);
      }
  bool x_int = true, y_int = true;
  for (const Series& s : chart.series)
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]))
        x_int = x_int && s.x[i] == std::round(s.x[i]), y_int = y_int && s.y[i] == std::round(s.y[i]);
  for (const auto& h : chart.hlines)
    if (std::isfinite(h.second)) {
      ylo = std::min(ylo, h.second), yhi = std::max(yhi, h.second);
      y_int = y_int && h.second == std::round(h.second);
    }
  if (!(xlo <= xhi)) xlo = 0, xhi = 1;
  if (!(ylo <= yhi)) ylo = 0, yhi = 1;

  // Legend column (outside the plot) when anything in it has a name.
  std::vector<LegendEntry> entries;
  for (size_t i = 0; i < chart.series.size(); ++i)
    entries.push_back({chart.series[i].name, svg::colour(i), i >= svg::palette().size() ? "6 3" : "", chart.markers});
  for (size_t i = 0; i < chart.hlines.size(); ++i)
    entries.push_back({chart.hlines[i].first, "#444444", kRefDash[i % kRefDash.size()], false});
  bool any_name = false;
  double legend_text = 0;
  for (const LegendEntry& e : entries) {
    any_name = any_name || !e.name.empty();
    legend_text = std::max(legend_text, svg::text_width(e.name, 12));
  }
  legend_text = std::min(legend_text, W * 0.3);
  const double right = any_name ? legend_text + 28 + 36 : 20;

  const double top = chart.title.empty() ? 16 : 44;
  const double bottom = chart.x_label.empty() ? 32 : 54;
  double y_tick_w = 0;
  // Tick targets scale with the space: ~one x tick per 90 px, one y tick per 55 px.
  std::vector<double> yt = axis_ticks(ylo, yhi, int((H - top - bottom) / 55) + 1, y_int);
  const double ystep = yt[1] - yt[0];
  for (double v : yt) y_tick_w = std::max(y_tick_w, svg::text_width(format_tick(v, ystep), 12));
  const double left = 10 + (chart.y_label.empty() ? 0 : 24) + y_tick_w + 8;
  const double x0 = left, x1 = W - right, y0 = top, y1 = H - bottom;
  std::vector<double> xt = axis_ticks(xlo, xhi, int((x1 - x0) / 90) + 1, x_int);
  const double xstep = xt[1] - xt[0];
  const double dxlo = xt.front(), dxhi = xt.back(), dylo = yt.front(), dyhi = yt.back();
  auto px = [&](double x) { return x0 + (x - dxlo) / (dxhi - dxlo) * (x1 - x0); };
  auto py = [&](double y) { return y1 - (y - dylo) / (dyhi - dylo) * (y1 - y0); };

  std::string s = svg::open(int(W), int(H), chart.title);
  // Grid and tick labels.
  s += "<g class=\"grid\" stroke=\"" + std::string(svg::kGrid) + "\" stroke-width=\"1\">\n";
  for (double v : yt)
    s += "<line x1=\"" + svg::num(x0) + "\" y1=\"" + svg::num(py(v)) + "\" x2=\"" + svg::num(x1) + "\" y2=\"" +
         svg::num(py(v)) + "\"/>\n";
  for (double v : xt)
    s += "<line x1=\"" + svg::num(px(v)) + "\" y1=\"" + svg::num(y0) + "\" x2=\"" + svg::num(px(v)) + "\" y2=\"" +
         svg::num(y1) + "\"/>\n";
  s += "</g>\n";
  // The zero line, when zero is inside the range: the sign of a score matters.
  if (dylo < 0 && dyhi > 0)
    s += "<line x1=\"" + svg::num(x0) + "\" y1=\"" + svg::num(py(0)) + "\" x2=\"" + svg::num(x1) + "\" y2=\"" +
         svg::num(py(0)) + "\" stroke=\"#b0b0b0\" stroke-width=\"1\"/>\n";
  s += "<g class=\"ticks\">\n";
  for (double v : yt) s += svg::text(x0 - 8, py(v) + 4, format_tick(v, ystep), 12, "end", svg::kMuted);
  for (double v : xt) s += svg::text(px(v), y1 + 18, format_tick(v, xstep), 12, "middle", svg::kMuted);
  s += "</g>\n";
  s += "<path d=\"M" + svg::num(x0) + " " + svg::num(y0) + "V" + svg::num(y1) + "H" + svg::num(x1) +
       "\" fill=\"none\" stroke=\"#888888\" stroke-width=\"1\"/>\n";

  // Reference lines under the data.
  for (size_t i = 0; i < chart.hlines.size(); ++i) {
    double v = chart.hlines[i].second;
    if (!std::isfinite(v)) continue;
    s += "<line x1=\"" + svg::num(x0) + "\" y1=\"" + svg::num(py(v)) + "\" x2=\"" + svg::num(x1) + "\" y2=\"" +
         svg::num(py(v)) + "\" stroke=\"#444444\" stroke-width=\"1.5\" stroke-dasharray=\"" +
         kRefDash[i % kRefDash.size()] + "\"/>\n";
  }

  // Series: one path per finite run; non-finite points break the line.
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const Series& ser = chart.series[k];
    const std::string& c = svg::colour(k);
    std::vector<std::vector<std::pair<double, double>>> runs(1);
    for (size_t i = 0; i < ser.x.size(); ++i) {
      if (std::isfinite(ser.x[i]) && std::isfinite(ser.y[i]))
        runs.back().push_back({px(ser.x[i]), py(ser.y[i])});
      else if (!runs.back().empty())
        runs.emplace_back();
    }
    s += "<g class=\"series\"><title>" + svg::esc(ser.name) + "</title>\n";
    for (const auto& run : runs) {
      if (run.size() < 2) continue;
      std::string d;
      for (size_t i = 0; i < run.size(); ++i)
        d += (i ? "L" : "M") + svg::num(run[i].first) + " " + svg::num(run[i].second);
      s += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + c +
           "\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"" +
           (k >= svg::palette().size() ? " stroke-dasharray=\"6 3\"" : "") + "/>\n";
    }
    for (const auto& run : runs) {
      if (!chart.markers && run.size() != 1) continue;
      for (const auto& p : run)
        s += "<circle cx=\"" + svg::num(p.first) + "\" cy=\"" + svg::num(p.second) + "\" r=\"3\" fill=\"" + c +
             "\" stroke=\"#ffffff\" stroke-width=\"1\"/>\n";
    }
    s += "</g>\n";
  }

  if (any_name) s += legend(entries, x1 + 20, y0 + 8, legend_text);
  if (!chart.title.empty()) s += svg::text(x0, 26, chart.title, 15, "start", svg::kInk, "font-weight=\"bold\"");
  if (!chart.x_label.empty()) s += svg::text((x0 + x1) / 2, H - 14, chart.x_label, 13, "middle", svg::kInk);
  if (!chart.y_label.empty())
    s += svg::text(0, 0, chart.y_label, 13, "middle", svg::kInk,
                   "transform=\"translate(18 " + svg::num((y0 + y1) / 2) + ") rotate(-90)\"");
  return s + "</svg>\n";
}

}  // namespace steer
