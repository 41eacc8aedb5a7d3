// See svg_util.h.
#include "report/svg_util.h"

#include <cmath>
#include <cstdio>

#include "steer/json_text.h"

namespace steer::svg {

const std::vector<std::string>& palette() {
  static const std::vector<std::string> kColours = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                                    "#E69F00", "#56B4E9", "#000000", "#F0E442"};
  return kColours;
}

const std::string& colour(size_t i) {
  return palette()[i % palette().size()];
}

std::string esc(const std::string& text) {
  const std::string s = valid_utf8(text);  // an SVG with a bad byte does not parse as XML
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double v) {
  if (!std::isfinite(v)) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  // "12.50" → "12.5", "3.00" → "3": shorter markup, same picture.
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

double text_width(const std::string& text, double font_px) {
  double em = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) == 0x80) continue;  // UTF-8 continuation byte
    if (c == ' ' || c == '.' || c == ',' || c == 'i' || c == 'l' || c == 'j' || c == '\'' || c == '|' || c == '(' ||
        c == ')')
      em += 0.32;
    else if (c >= 'A' && c <= 'Z')
      em += 0.68;
    else if (c == 'm' || c == 'w')
      em += 0.85;
    else
      em += 0.58;
  }
  return em * font_px;
}

std::string open(int width, int height, const std::string& title) {
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
                  std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " +
                  std::to_string(height) + "\" font-family=\"" + kFont + "\">\n";
  s += "<title>" + esc(title) + "</title>\n";
  s += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(width) + "\" height=\"" + std::to_string(height) +
       "\" fill=\"#ffffff\"/>\n";
  return s;
}

std::string text(double x, double y, const std::string& s, double font_px, const std::string& anchor,
                 const std::string& fill, const std::string& extra) {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(font_px) + "\" text-anchor=\"" + anchor +
         "\" fill=\"" + fill + "\"" + (extra.empty() ? "" : " " + extra) + ">" + esc(s) + "</text>\n";
}

void finite_range(const std::vector<double>& values, double* lo, double* hi) {
  *lo = INFINITY;
  *hi = -INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    *lo = std::min(*lo, v);
    *hi = std::max(*hi, v);
  }
}

}  // namespace steer::svg
