// UTF-8 helpers and the GPT-2 byte↔unicode table the byte-level BPE tokenizers use.
//
// Byte-level BPE vocabularies (GPT-2 and every tokenizer derived from it) never store raw
// bytes: each byte is first mapped to a printable code point (' ' → 'Ġ', '\n' → 'Ċ', …) and
// the tokens and merges are strings of those code points. This file owns that table and the
// small UTF-8 routines the tokenizers share. Nothing here knows about vocabularies.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace steer::utf8 {

// Length in bytes of the UTF-8 sequence that starts with `lead` (1 for invalid lead bytes).
int sequence_length(uint8_t lead);

// Decodes the code point at s[pos]; advances pos. Invalid or truncated sequences decode as
// U+FFFD and advance by one byte (the rule llama.cpp and Python's "replace" use).
uint32_t decode(std::string_view s, size_t& pos);

void append(std::string& out, uint32_t cp);  // encode one code point

// Copy of `s` with every invalid byte replaced by U+FFFD, so regex engines in UTF mode
// accept it. Returns `s` unchanged (no copy work beyond the scan) when it is valid.
std::string sanitize(std::string_view s);

// GPT-2 byte → code point (as UTF-8) and back.
const std::string& byte_to_unicode(uint8_t byte);
// Maps a byte-level token text back to raw bytes. Code points outside the table are kept
// as their UTF-8 (they cannot come from a well-formed vocabulary).
std::string unicode_to_bytes(std::string_view token_text);
// Maps raw bytes to the byte-level alphabet.
std::string bytes_to_unicode(std::string_view bytes);

}  // namespace steer::utf8
