// A self-contained HTML report page: inline CSS, no scripts and no external resources, so the
// one file can be mailed, archived or opened offline. All text is escaped; only svg() takes
// markup (the charts render_svg makes).
#include <algorithm>

#include "steer/error.h"
#include "steer/json_text.h"
#include "report/report.h"

namespace steer {
namespace {

constexpr const char* kCss = R"(
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222; background: #fff;
       max-width: 980px; margin: 2em auto; padding: 0 1em; line-height: 1.45; font-size: 15px; }
h1 { font-size: 1.6em; margin-bottom: 0.4em; }
h2 { font-size: 1.3em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3, h4, h5, h6 { font-size: 1.1em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #d4d4d4; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
tr:nth-child(even) td { background: #fafafa; }
pre { background: #f6f6f6; border: 1px solid #e2e2e2; padding: 0.8em; overflow-x: auto; font-size: 13px;
      white-space: pre-wrap; }
figure { margin: 1em 0; }
figure svg { max-width: 100%; height: auto; }
)";

}  // namespace

std::string html_escape(const std::string& raw) {
  const std::string text = valid_utf8(raw);  // the page declares UTF-8; keep it so
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

HtmlReport::HtmlReport(std::string title) : title_(std::move(title)) {}

HtmlReport& HtmlReport::heading(const std::string& text, int level) {
  const std::string l = std::to_string(std::clamp(level, 1, 6));
  body_ += "<h" + l + ">" + html_escape(text) + "</h" + l + ">\n";
  return *this;
}

HtmlReport& HtmlReport::paragraph(const std::string& text) {
  body_ += "<p>" + html_escape(text) + "</p>\n";
  return *this;
}

HtmlReport& HtmlReport::table(const std::vector<std::string>& header,
                              const std::vector<std::vector<std::string>>& rows) {
  std::string t = "<table>\n<thead><tr>";
  for (const std::string& h : header) t += "<th>" + html_escape(h) + "</th>";
  t += "</tr></thead>\n<tbody>\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() > header.size())
      fail("HTML report table: row " + std::to_string(r + 1) + " has " + std::to_string(rows[r].size()) +
           " cells, the header " + std::to_string(header.size()));
    t += "<tr>";
    for (size_t c = 0; c < header.size(); ++c) t += "<td>" + (c < rows[r].size() ? html_escape(rows[r][c]) : "") + "</td>";
    t += "</tr>\n";
  }
  body_ += t + "</tbody>\n</table>\n";
  return *this;
}

HtmlReport& HtmlReport::svg(const std::string& svg_markup) {
  body_ += "<figure>\n" + svg_markup + "</figure>\n";
  return *this;
}

HtmlReport& HtmlReport::pre(const std::string& text) {
  body_ += "<pre>" + html_escape(text) + "</pre>\n";
  return *this;
}

std::string HtmlReport::str() const {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         html_escape(title_) + "</title>\n<style>" + kCss + "</style>\n</head>\n<body>\n<h1>" + html_escape(title_) +
         "</h1>\n" + body_ + "</body>\n</html>\n";
}

void HtmlReport::write(const std::string& path) const {
  write_text_file_atomic(path, str());
}

}  // namespace steer
