// Heatmaps as self-contained SVG: a grid of cells coloured by value, row labels left, column
// labels below (turned 45° when they do not fit), a colour bar on the right, and each value
// written in its cell when the cells are large enough. See report/report.h.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "steer/error.h"
#include "report/svg_util.h"
#include "report/report.h"

namespace steer {
namespace {

struct Rgb {
  double r, g, b;
};

Rgb lerp(const Rgb& a, const Rgb& b, double t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

// Piecewise-linear through evenly spaced stops, t in [0, 1].
Rgb ramp(const std::vector<Rgb>& stops, double t) {
  t = std::clamp(t, 0.0, 1.0) * double(stops.size() - 1);
  size_t i = std::min(size_t(t), stops.size() - 2);
  return lerp(stops[i], stops[i + 1], t - double(i));
}

// ColorBrewer RdBu (blue for negative, red for positive) and Blues: both colour-blind safe.
const std::vector<Rgb> kDiverging = {{33, 102, 172}, {103, 169, 207}, {209, 229, 240}, {247, 247, 247},
                                     {253, 219, 199}, {239, 138, 98},  {178, 24, 43}};
const std::vector<Rgb> kSequential = {{247, 251, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181},
                                      {8, 48, 107}};

std::string hex(const Rgb& c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", int(std::lround(c.r)), int(std::lround(c.g)), int(std::lround(c.b)));
  return buf;
}

double luminance(const Rgb& c) {
  return (0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b) / 255.0;
}

// Maps values to colours as report.h describes.
struct ColourMap {
  bool diverging = false, negative = false;
  double lo = 0, hi = 1, extent = 1;
  Rgb at(double v) const {
    if (diverging) return ramp(kDiverging, 0.5 + 0.5 * v / extent);
    double t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    return ramp(kSequential, negative ? 1 - t : t);
  }
};

std::string format_value(const std::string& fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt.c_str(), v);
  std::string s = buf;
  if (s.find_first_not_of("-0.") == std::string::npos && s.find('-') != std::string::npos) s.erase(0, 1);  // "-0.00"
  return s;
}

// One %-conversion for a double (f, e, g, with flags/width/precision) and nothing else, so
// a user format cannot read memory it was not given.
bool valid_double_format(const std::string& fmt) {
  int conversions = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') continue;
    if (i + 1 < fmt.size() && fmt[i + 1] == '%') {
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < fmt.size() && std::string("-+ #0").find(fmt[j]) != std::string::npos) ++j;
    while (j < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[j]))) ++j;
    if (j < fmt.size() && fmt[j] == '.') {
      ++j;
      while (j < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[j]))) ++j;
    }
    if (j >= fmt.size() || std::string("fFeEgG").find(fmt[j]) == std::string::npos) return false;
    ++conversions;
    i = j;
  }
  return conversions == 1;
}

}  // namespace

std::string render_svg(const Heatmap& h) {
  const size_t R = h.values.size();
  const size_t C = R ? h.values[0].size() : 0;
  for (size_t r = 0; r < R; ++r)
    if (h.values[r].size() != C)
      fail("heatmap \"" + h.title + "\": row " + std::to_string(r) + " has " + std::to_string(h.values[r].size()) +
           " values, row 0 has " + std::to_string(C));
  if (!h.row_labels.empty() && h.row_labels.size() != R)
    fail("heatmap \"" + h.title + "\": " + std::to_string(h.row_labels.size()) + " row labels for " +
         std::to_string(R) + " rows");
  if (!h.col_labels.empty() && h.col_labels.size() != C)
    fail("heatmap \"" + h.title + "\": " + std::to_string(h.col_labels.size()) + " column labels for " +
         std::to_string(C) + " columns");
  if (!valid_double_format(h.value_format))
    fail("heatmap \"" + h.title + "\": value format \"" + h.value_format + "\" is not one printf conversion of a double",
         "e.g. \"%.2f\", \"%.1e\" or \"%.0f%%\"");

  // Colour scale over the finite values.
  std::vector<double> all;
  for (const auto& row : h.values) all.insert(all.end(), row.begin(), row.end());
  ColourMap cmap;
  svg::finite_range(all, &cmap.lo, &cmap.hi);
  const bool any = cmap.lo <= cmap.hi;
  if (!any) cmap.lo = 0, cmap.hi = 1;
  cmap.diverging = cmap.lo < 0 && cmap.hi > 0;
  cmap.negative = !cmap.diverging && cmap.hi <= 0 && cmap.lo < 0;
  cmap.extent = std::max(std::abs(cmap.lo), std::abs(cmap.hi));
  if (!(cmap.extent > 0)) cmap.extent = 1;

  // Layout: cells sized to fit ~560 × 420 px, within readable bounds.
  const double cell_w = C ? std::clamp(560.0 / double(C), 10.0, 64.0) : 40;
  const double cell_h = R ? std::clamp(420.0 / double(R), 10.0, 34.0) : 30;
  double row_w = 0, col_w = 0;
  for (const auto& l : h.row_labels) row_w = std::max(row_w, svg::text_width(l, 12));
  for (const auto& l : h.col_labels) col_w = std::max(col_w, svg::text_width(l, 12));
  const bool turn = col_w > cell_w - 4;  // column labels at 45° when they would collide
  const double col_band = h.col_labels.empty() ? 6 : turn ? col_w * 0.71 + 16 : 22;
  const double left = 12 + (h.y_label.empty() ? 0 : 24) + row_w + 8;
  const double top = h.title.empty() ? 16 : 44;
  const double gx0 = left, gy0 = top, gx1 = gx0 + cell_w * C, gy1 = gy0 + cell_h * R;

  // Colour bar: its own ticks, on the scale's range (symmetric when diverging).
  const double bar_lo = cmap.diverging ? -cmap.extent : cmap.lo, bar_hi = cmap.diverging ? cmap.extent : cmap.hi;
  std::vector<double> ticks = nice_ticks(bar_lo, bar_hi, 5);
  std::vector<double> bar_ticks;
  for (double t : ticks)
    if (t >= bar_lo - 1e-12 * std::abs(bar_hi - bar_lo) && t <= bar_hi + 1e-12 * std::abs(bar_hi - bar_lo))
      bar_ticks.push_back(t);
  const double tick_step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  double tick_w = 0;
  for (double t : bar_ticks) tick_w = std::max(tick_w, svg::text_width(format_tick(t, tick_step), 12));
  const double bar_x = gx1 + 18, bar_w = 14;
  const double bar_h = std::max(gy1 - gy0, 120.0);
  const double W = bar_x + bar_w + 8 + tick_w + 12;
  const double title_w = 1.12 * svg::text_width(h.title, 15) + gx0 + 16;  // bold runs wider
  const double width = std::max({W, title_w, 240.0});
  const double height = std::max(gy1, gy0 + bar_h) + col_band + (h.x_label.empty() ? 10 : 34);

  std::string s = svg::open(int(std::ceil(width)), int(std::ceil(height)), h.title);

  // Cells, then their annotations.
  std::vector<std::string> texts(R * C);
  bool fits = true;
  for (size_t r = 0; r < R; ++r)
    for (size_t c = 0; c < C; ++c) {
      double v = h.values[r][c];
      if (!std::isfinite(v)) continue;
      texts[r * C + c] = format_value(h.value_format, v);
      fits = fits && svg::text_width(texts[r * C + c], 11) <= cell_w - 4;
    }
  const bool annotate = fits && cell_h >= 16;
  s += "<g class=\"cells\" stroke=\"#ffffff\" stroke-width=\"1\">\n";
  for (size_t r = 0; r < R; ++r)
    for (size_t c = 0; c < C; ++c) {
      double v = h.values[r][c];
      std::string fill = std::isfinite(v) ? hex(cmap.at(v)) : "#d9d9d9";
      std::string label = (r < h.row_labels.size() ? h.row_labels[r] : std::to_string(r)) + " / " +
                          (c < h.col_labels.size() ? h.col_labels[c] : std::to_string(c)) + ": " +
                          (std::isfinite(v) ? texts[r * C + c] : "no value");
      s += "<rect x=\"" + svg::num(gx0 + c * cell_w) + "\" y=\"" + svg::num(gy0 + r * cell_h) + "\" width=\"" +
           svg::num(cell_w) + "\" height=\"" + svg::num(cell_h) + "\" fill=\"" + fill + "\"><title>" +
           svg::esc(label) + "</title></rect>\n";
    }
  s += "</g>\n";
  if (annotate) {
    s += "<g class=\"values\">\n";
    for (size_t r = 0; r < R; ++r)
      for (size_t c = 0; c < C; ++c) {
        double v = h.values[r][c];
        if (!std::isfinite(v)) continue;
        std::string ink = luminance(cmap.at(v)) < 0.5 ? "#ffffff" : "#222222";
        s += svg::text(gx0 + (c + 0.5) * cell_w, gy0 + (r + 0.5) * cell_h + 4, texts[r * C + c], 11, "middle", ink);
      }
    s += "</g>\n";
  }

  // Labels.
  s += "<g class=\"labels\">\n";
  for (size_t r = 0; r < h.row_labels.size(); ++r)
    s += svg::text(gx0 - 6, gy0 + (r + 0.5) * cell_h + 4, h.row_labels[r], 12, "end", svg::kMuted);
  for (size_t c = 0; c < h.col_labels.size(); ++c) {
    double cx = gx0 + (c + 0.5) * cell_w;
    if (turn)
      s += svg::text(0, 0, h.col_labels[c], 12, "end", svg::kMuted,
                     "transform=\"translate(" + svg::num(cx + 3) + " " + svg::num(gy1 + 12) + ") rotate(-45)\"");
    else
      s += svg::text(cx, gy1 + 16, h.col_labels[c], 12, "middle", svg::kMuted);
  }
  s += "</g>\n";

  // Colour bar: a vertical gradient through the map's stops, low at the bottom. The id names
  // the map, not the chart, so several heatmaps inlined in one HTML page share equal
  // definitions instead of clashing.
  const std::vector<Rgb>& stops = cmap.diverging ? kDiverging : kSequential;
  const std::string grad = cmap.diverging ? "steer-cmap-rdbu" : cmap.negative ? "steer-cmap-blues-r" : "steer-cmap-blues";
  s += "<defs><linearGradient id=\"" + grad + "\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\n";
  for (size_t i = 0; i < stops.size(); ++i) {
    const Rgb& c = cmap.negative ? stops[stops.size() - 1 - i] : stops[i];
    s += "<stop offset=\"" + svg::num(double(i) / double(stops.size() - 1)) + "\" stop-color=\"" + hex(c) + "\"/>\n";
  }
  s += "</linearGradient></defs>\n<g class=\"colorbar\">\n";
  s += "<rect x=\"" + svg::num(bar_x) + "\" y=\"" + svg::num(gy0) + "\" width=\"" + svg::num(bar_w) + "\" height=\"" +
       svg::num(bar_h) + "\" fill=\"url(#" + grad + ")\" stroke=\"#888888\" stroke-width=\"1\"/>\n";
  for (double t : bar_ticks) {
    double y = bar_hi > bar_lo ? gy0 + bar_h - (t - bar_lo) / (bar_hi - bar_lo) * bar_h : gy0 + bar_h / 2;
    s += "<line x1=\"" + svg::num(bar_x + bar_w) + "\" y1=\"" + svg::num(y) + "\" x2=\"" + svg::num(bar_x + bar_w + 4) +
         "\" y2=\"" + svg::num(y) + "\" stroke=\"#888888\"/>\n";
    s += svg::text(bar_x + bar_w + 7, y + 4, format_tick(t, tick_step), 12, "start", svg::kMuted);
  }
  s += "</g>\n";

  if (!h.title.empty()) s += svg::text(gx0, 26, h.title, 15, "start", svg::kInk, "font-weight=\"bold\"");
  if (!h.x_label.empty()) s += svg::text((gx0 + gx1) / 2, height - 12, h.x_label, 13, "middle", svg::kInk);
  if (!h.y_label.empty())
    s += svg::text(0, 0, h.y_label, 13, "middle", svg::kInk,
                   "transform=\"translate(18 " + svg::num((gy0 + gy1) / 2) + ") rotate(-90)\"");
  return s + "</svg>\n";
}

}  // namespace steer
