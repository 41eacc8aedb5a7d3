// Shared pieces of the SVG charts (svg_chart.cc, svg_heatmap.cc, svg_bar.cc): the palette,
// fonts, number formatting that never prints "nan", text-width estimates for layout, and the
// <svg> frame. Internal to src/report/.
#pragma once
#include <string>
#include <vector>

namespace steer::svg {

// Okabe–Ito, reordered so the first colours are the most distinct on white (yellow last).
const std::vector<std::string>& palette();
const std::string& colour(size_t i);  // palette()[i % size]

constexpr const char* kFont = "DejaVu Sans, Helvetica, Arial, sans-serif";
constexpr const char* kInk = "#222222";    // text and axes
constexpr const char* kMuted = "#555555";  // tick labels
constexpr const char* kGrid = "#e6e6e6";

// XML-escaped text (& < > " '), made valid UTF-8 first (bad bytes → U+FFFD).
std::string esc(const std::string& s);
// A coordinate: finite values with 2 decimals, anything else "0" (callers skip non-finite
// data before it gets here; this is the last guard against "nan" in the markup).
std::string num(double v);
// Rough width in px of `text` at `font_px` in a sans-serif font, for layout decisions.
double text_width(const std::string& text, double font_px);

// Opening <svg …> with viewBox, the font, a white background and a <title>; close with "</svg>\n".
std::string open(int width, int height, const std::string& title);
// A <text> element; anchor "start"/"middle"/"end"; extra attributes appended verbatim.
std::string text(double x, double y, const std::string& s, double font_px, const std::string& anchor,
                 const std::string& fill, const std::string& extra = "");

// The smallest and largest finite value of `values` (lo > hi when there is none).
void finite_range(const std::vector<double>& values, double* lo, double* hi);

}  // namespace steer::svg
