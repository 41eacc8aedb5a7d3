// UTF-8 helpers and the GPT-2 byte↔unicode table (see utf8.h).
#include "tokenizer/utf8.h"
#include "steer/json_text.h"

#include <array>
#include <unordered_map>

namespace steer::utf8 {

int sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

uint32_t decode(std::string_view s, size_t& pos) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t c = b(pos);
  if (c < 0x80) {
    ++pos;
    return c;
  }
  int n = 0;
  uint32_t cp = 0;
  uint32_t min = 0;
  if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; min = 0x80; }
  else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; min = 0x800; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; min = 0x10000; }
  else { ++pos; return 0xFFFD; }
  for (int i = 1; i <= n; ++i) {
    if (pos + i >= s.size() || (b(pos + i) & 0xC0) != 0x80) { ++pos; return 0xFFFD; }
    cp = (cp << 6) | (b(pos + i) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) { ++pos; return 0xFFFD; }
  pos += n + 1;
  return cp;
}

void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    if (static_cast<uint8_t>(s[pos]) < 0x80) {
      out.push_back(s[pos++]);
      continue;
    }
    const size_t start = pos;
    const uint32_t cp = decode(s, pos);
    if (cp == 0xFFFD && pos == start + 1) {
      append(out, 0xFFFD);
    } else {
      out.append(s.substr(start, pos - start));
    }
  }
  return out;
}

namespace {

// The GPT-2 table: printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100.. in byte order.
struct ByteTable {
  std::array<std::string, 256> to_unicode;
  std::unordered_map<uint32_t, uint8_t> to_byte;
  ByteTable() {
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(next++);
      append(to_unicode[b], cp);
      to_byte[cp] = static_cast<uint8_t>(b);
    }
  }
};

const ByteTable& table() {
  static const ByteTable t;
  return t;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t byte) { return table().to_unicode[byte]; }

std::string unicode_to_bytes(std::string_view token_text) {
  const auto& t = table();
  std::string out;
  out.reserve(token_text.size());
  size_t pos = 0;
  while (pos < token_text.size()) {
    const size_t start = pos;
    const uint32_t cp = decode(token_text, pos);
    auto it = t.to_byte.find(cp);
    if (it != t.to_byte.end()) {
      out.push_back(static_cast<char>(it->second));
    } else {
      out.append(token_text.substr(start, pos - start));
    }
  }
  return out;
}

std::string bytes_to_unicode(std::string_view bytes) {
  const auto& t = table();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += t.to_unicode[static_cast<uint8_t>(c)];
  return out;
}

}  // namespace steer::utf8

// The public face of sanitize (steer/json_text.h), for the writers of CSV, HTML and SVG.
namespace steer {
std::string valid_utf8(std::string_view s) { return utf8::sanitize(s); }
bool is_valid_utf8(std::string_view s) { return utf8::sanitize(s) == s; }
}  // namespace steer
