// steer::Tokenizer: special-token partition, then BPE or SPM; decoding (see tokenizer.h).
#include "steer/tokenizer.h"

#include <algorithm>
#include <memory>
#include <unordered_map>

#include "steer/error.h"
#include "steer/gguf.h"
#include "tokenizer/bpe.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/spm.h"
#include "tokenizer/utf8.h"

namespace steer {

namespace {

const char* const kSpmSpace = "\xE2\x96\x81";  // "▁"

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

// llama.cpp's detokenizer clean-up for clean_spaces vocabularies (three passes over bytes).
std::string clean_up_spaces(const std::string& in) {
  std::string a;
  a.reserve(in.size());
  // 1: " ?", " !", " .", " ," lose the space.
  for (size_t i = 0; i < in.size(); ++i) {
    const char x = in[i];
    if (i > 0 && in[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') && !a.empty()) {
      a.pop_back();
    }
    a.push_back(x);
  }
  // 2: a lone apostrophe between spaces loses both spaces. (llama.cpp blanks the dropped
  // space in place, so it no longer counts as the space before a following apostrophe.)
  std::string b;
  b.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = a[i];
    if (i > 0 && x == '\'' && i + 1 < a.size() && a[i - 1] == ' ' && a[i + 1] == ' ') {
      if (!b.empty()) b.pop_back();
      b.push_back(x);
      a[i + 1] = '\0';
      ++i;  // drop the next space
      continue;
    }
    b.push_back(x);
  }
  // 3: contractions " 's", " 'm", " 're", " 've" lose the space.
  std::string c;
  c.reserve(b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    const char x = b[i];
    if (i > 0 && b[i - 1] == ' ' && x == '\'' && i + 1 < b.size()) {
      const char x1 = b[i + 1];
      const bool drop = x1 == 's' || x1 == 'm' ||
                        (i + 2 < b.size() && ((x1 == 'r' && b[i + 2] == 'e') || (x1 == 'v' && b[i + 2] == 'e')));
      if (drop && !c.empty()) c.pop_back();
    }
    c.push_back(x);
  }
  return c;
}

}  // namespace

struct Tokenizer::Impl {
  VocabSpec spec;
  bool is_spm = false;
  std::unordered_map<std::string, int32_t> token_to_id;
  std::vector<std::string> pieces;  // decoded bytes per token
  std::vector<int32_t> stop_ids;
  SpecialTokenMatcher all_specials;   // control + unknown + user-defined
  SpecialTokenMatcher user_specials;  // user-defined only (parse_special = false)
  std::unique_ptr<BpeModel> bpe;
  std::unique_ptr<SpmModel> spm;

  TokenType type(int32_t id) const {
    if (spec.token_types.empty()) return TokenType::kNormal;
    return static_cast<TokenType>(spec.token_types[id]);
  }
  void check_id(int32_t id) const {
    if (id < 0 || id >= static_cast<int32_t>(spec.tokens.size())) {
      fail("token id " + std::to_string(id) + " is outside the vocabulary (size " +
               std::to_string(spec.tokens.size()) + (spec.source.empty() ? "" : ", " + spec.source) + ")",
           "ids come from a different model's tokenizer?");
    }
  }
};

namespace {

std::string make_piece(const VocabSpec& spec, bool is_spm, int32_t id) {
  const std::string& text = spec.tokens[id];
  const TokenType type = spec.token_types.empty() ? TokenType::kNormal
                                                  : static_cast<TokenType>(spec.token_types[id]);
  switch (type) {
    case TokenType::kControl:
    case TokenType::kUnknown:
    case TokenType::kUserDefined:
      return text;
    case TokenType::kNormal:
      if (is_spm) {
        std::string piece = text;
        replace_all(piece, kSpmSpace, " ");
        return piece;
      }
      return utf8::unicode_to_bytes(text);
    case TokenType::kByte:
      if (!is_spm) return "";  // byte-level BPE spells bytes as its normal tokens
      if (text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>') {
        // Two hex digits, checked here (found by fuzzing: std::stoi threw on "<0xZZ>").
        auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                            : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
        const int hi = hex(text[3]), lo = hex(text[4]);
        if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
      }
      fail("token " + std::to_string(id) + " '" + text + "' is a byte token but not written <0xHH>" +
               (spec.source.empty() ? "" : " (" + spec.source + ")"),
           "the vocabulary's token types do not fit its tokens; is the tokenizer file damaged?");
    default:  // unused, undefined: no text (as llama.cpp)
      return "";
  }
}

}  // namespace

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Tokenizer Tokenizer::from_gguf(const GGUFFile& file) { return from_spec(vocab_from_gguf(file)); }

Tokenizer Tokenizer::from_hf_dir(const std::string& dir) { return from_spec(vocab_from_hf(dir)); }

Tokenizer Tokenizer::from_spec(VocabSpec spec) {
  const std::string where = spec.source.empty() ? std::string("vocabulary") : spec.source;
  auto impl = std::make_shared<Impl>();
  const size_t n = spec.tokens.size();
  if (n == 0) fail(where + ": the vocabulary has no tokens", "is tokenizer.ggml.tokens present?");
  if (n > static_cast<size_t>(INT32_MAX)) fail(where + ": vocabulary too large");
  if (!spec.token_types.empty() && spec.token_types.size() != n) {
    fail(where + ": " + std::to_string(spec.token_types.size()) + " token types for " +
         std::to_string(n) + " tokens", "tokenizer.ggml.token_type must have one entry per token");
  }
  if (!spec.scores.empty() && spec.scores.size() != n) {
    fail(where + ": " + std::to_string(spec.scores.size()) + " scores for " + std::to_string(n) +
         " tokens", "tokenizer.ggml.scores must have one entry per token");
  }
  for (int32_t* id : {&spec.bos_id, &spec.eos_id, &spec.eot_id, &spec.unk_id, &spec.pad_id}) {
    if (*id >= static_cast<int32_t>(n) || *id < -1) *id = -1;  // llama.cpp ignores bad ids too
  }
  if (spec.model == "llama") {
    impl->is_spm = true;
  } else if (spec.model != "gpt2") {
    fail(where + ": tokenizer model '" + spec.model + "' is not supported",
         "supported: gpt2 (byte-level BPE) and llama (SentencePiece); WordPiece (bert) and "
         "Unigram (t5) vocabularies are not");
  }

  impl->token_to_id.reserve(n);
  std::vector<std::string> special_texts, user_texts;
  std::vector<int32_t> special_ids, user_ids;
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = static_cast<int32_t>(i);
    if (spec.tokens[i].empty()) spec.tokens[i] = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp
    impl->token_to_id[spec.tokens[i]] = id;  // duplicates: the last id wins (as llama.cpp)
    const TokenType type = spec.token_types.empty() ? TokenType::kNormal
                                                    : static_cast<TokenType>(spec.token_types[i]);
    if (type == TokenType::kControl || type == TokenType::kUnknown || type == TokenType::kUserDefined) {
      special_texts.push_back(spec.tokens[i]);
      special_ids.push_back(id);
      if (type == TokenType::kUserDefined) {
        user_texts.push_back(spec.tokens[i]);
        user_ids.push_back(id);
      }
    }
  }
  impl->all_specials = SpecialTokenMatcher(special_texts, special_ids);
  impl->user_specials = SpecialTokenMatcher(user_texts, user_ids);

  impl->pieces.resize(n);
  for (size_t i = 0; i < n; ++i) impl->pieces[i] = make_piece(spec, impl->is_spm, static_cast<int32_t>(i));

  // Stop ids: eos, eot and end-of-turn texts (llama.cpp's end-of-generation list).
  std::vector<int32_t> stops;
  if (spec.eos_id >= 0) stops.push_back(spec.eos_id);
  if (spec.eot_id >= 0) stops.push_back(spec.eot_id);
  for (const char* t : {"<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|endoftext|>", "<|end|>",
                        "<|eom_id|>", "<|end_of_text|>", "<EOT>"}) {
    auto it = impl->token_to_id.find(t);
    if (it != impl->token_to_id.end()) stops.push_back(it->second);
  }
  std::sort(stops.begin(), stops.end());
  stops.erase(std::unique(stops.begin(), stops.end()), stops.end());
  impl->stop_ids = stops;

  std::vector<std::string> regexes;
  if (!impl->is_spm) {
    regexes = spec.pre_regexes;
    if (regexes.empty()) regexes = pre_type_info(spec.pre).regexes;
  }
  impl->spec = std::move(spec);
  // The models keep references into impl (token_to_id, scores), which no longer moves.
  if (impl->is_spm) {
    impl->spm = std::make_unique<SpmModel>(impl->token_to_id, impl->spec.scores, impl->spec.unk_id);
  }
  if (!impl->is_spm || !impl->spec.merges.empty()) {
    BpeModel::Options options;
    options.byte_level = !impl->is_spm;
    options.regexes = std::move(regexes);
    options.ignore_merges = impl->spec.ignore_merges;
    options.unk_id = impl->spec.unk_id;
    for (int b = 0; b < 256; ++b) options.byte_tokens[b] = impl->is_spm ? impl->spm->byte_token(b) : -1;
    impl->bpe = std::make_unique<BpeModel>(impl->token_to_id, impl->spec.merges, std::move(options), where);
  }
  return Tokenizer(std::shared_ptr<const Impl>(std::move(impl)));
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool add_bos, bool parse_special) const {
  return encode_impl(text, add_bos, parse_special, /*continuation=*/false);
}

std::vector<int32_t> Tokenizer::encode_continuation(const std::string& text, bool parse_special) const {
  return encode_impl(text, /*add_bos=*/false, parse_special, /*continuation=*/true);
}

std::vector<int32_t> Tokenizer::encode_impl(const std::string& text, bool add_bos, bool parse_special,
                                            bool continuation) const {
  const Impl& m = *impl_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && m.spec.add_bos && m.spec.bos_id >= 0) out.push_back(m.spec.bos_id);
  const auto fragments = (parse_special ? m.all_specials : m.user_specials).split(text);
  bool prev_special = !continuation;  // SPM: the input start counts as "after a special token"
  for (const auto& f : fragments) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    if (m.is_spm) {
      std::string escaped;
      const bool at_start = &f == &fragments.front() && !continuation;
      if (m.spec.add_space_prefix && prev_special && (!m.spec.space_prefix_at_start_only || at_start)) {
        escaped = " ";
      }
      escaped.append(f.text);
      replace_all(escaped, " ", kSpmSpace);
      if (!m.bpe) {
        m.spm->encode(escaped, out);
      } else if (!m.spec.split_on_space_marker) {
        m.bpe->encode_word(escaped, out);
      } else {
        // Hugging Face Metaspace split: each "▁" starts a new word.
        size_t start = 0;
        for (size_t pos = escaped.find(kSpmSpace, 1); pos != std::string::npos;
             pos = escaped.find(kSpmSpace, pos + 3)) {
          m.bpe->encode_word(std::string_view(escaped).substr(start, pos - start), out);
          start = pos;
        }
        m.bpe->encode_word(std::string_view(escaped).substr(start), out);
      }
    } else {
      m.bpe->encode(f.text, out);
    }
    prev_special = false;
  }
  if (add_bos && m.spec.add_eos && m.spec.eos_id >= 0) out.push_back(m.spec.eos_id);
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  const Impl& m = *impl_;
  std::string out;
  bool strip_space = m.is_spm && m.spec.add_space_prefix;
  size_t i = 0;
  if (!ids.empty() && ids[0] == m.spec.bos_id && m.spec.bos_id >= 0) {
    m.check_id(ids[0]);
    if (!skip_special) out += m.pieces[ids[0]];
    i = 1;
  }
  for (; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    m.check_id(id);
    const TokenType type = m.type(id);
    if (skip_special && (type == TokenType::kControl || type == TokenType::kUnknown)) continue;
    const std::string& piece = m.pieces[id];
    if (strip_space && !piece.empty() && piece[0] == ' ') {
      out.append(piece, 1, std::string::npos);
    } else {
      out += piece;
    }
    strip_space = false;
  }
  if (m.spec.clean_spaces) return clean_up_spaces(out);
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id) const {
  impl_->check_id(id);
  return impl_->pieces[id];
}

const std::string& Tokenizer::token_text(int32_t id) const {
  impl_->check_id(id);
  return impl_->spec.tokens[id];
}

int32_t Tokenizer::token_id(const std::string& token_text) const {
  auto it = impl_->token_to_id.find(token_text);
  return it == impl_->token_to_id.end() ? -1 : it->second;
}

int32_t Tokenizer::bos_id() const { return impl_->spec.bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->spec.eos_id; }
int32_t Tokenizer::eot_id() const { return impl_->spec.eot_id; }
int32_t Tokenizer::pad_id() const { return impl_->spec.pad_id; }
int32_t Tokenizer::unk_id() const { return impl_->spec.unk_id; }
std::vector<int32_t> Tokenizer::stop_ids() const { return impl_->stop_ids; }
bool Tokenizer::add_bos_default() const { return impl_->spec.add_bos && impl_->spec.bos_id >= 0; }
int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->spec.tokens.size()); }

bool Tokenizer::is_special(int32_t id) const {
  impl_->check_id(id);
  const TokenType t = impl_->type(id);
  return t == TokenType::kControl || t == TokenType::kUnknown || t == TokenType::kUserDefined;
}

TokenType Tokenizer::token_type(int32_t id) const {
  impl_->check_id(id);
  return impl_->type(id);
}

const VocabSpec& Tokenizer::spec() const { return impl_->spec; }
const std::string& Tokenizer::chat_template_text() const { return impl_->spec.chat_template; }

}  // namespace steer
