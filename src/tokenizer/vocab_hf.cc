// VocabSpec from a Hugging Face tokenizer directory (tokenizer.json, tokenizer_config.json,
// chat_template.jinja). See vocab.h for what is supported.
//
// Mapping to GGUF-style data (as llama.cpp's convert_hf_to_gguf.py does it):
//   - vocabulary ids from model.vocab plus added_tokens; holes are filled with "[PAD<id>]"
//     tokens of type unused;
//   - added tokens with "special": true are control tokens, the others user-defined;
//     "<0xXX>" tokens of a byte_fallback model are byte tokens;
//   - byte-level BPE: the pre_tokenizer's Split regexes, Digits, and ByteLevel's own regex,
//     in order, become pre_regexes;
//   - BPE with byte_fallback (SentencePiece converted): model "llama"; merges keep their ranks
//     (the tokenizer merges by rank, as Hugging Face does), a Prepend("▁") normalizer or a
//     Metaspace pre-tokenizer with prepend_scheme "first"/"always" sets add_space_prefix.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/read_file.h"
#include "steer/error.h"
#include "steer/vocab.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab_common.h"

namespace steer {

namespace {

using json = nlohmann::json;


// Escapes a literal string for use in a PCRE2 pattern.
std::string regex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

struct PreTokenizerInfo {
  bool byte_level = false;
  std::vector<std::string> regexes;
  bool metaspace = false;
  bool metaspace_split = false;
  bool metaspace_prepend = false;
  bool metaspace_first_only = false;
};

void read_pre_tokenizer(const json& pt, const std::string& path, PreTokenizerInfo& info) {
  if (pt.is_null()) return;
  const std::string type = pt.value("type", "");
  if (type == "Sequence") {
    for (const auto& child : pt.at("pretokenizers")) read_pre_tokenizer(child, path, info);
  } else if (type == "Split") {
    const std::string behavior = pt.value("behavior", "Isolated");
    if (behavior != "Isolated" || pt.value("invert", false)) {
      fail(path + ": pre_tokenizer Split with behavior '" + behavior + "'" +
               (pt.value("invert", false) ? " (inverted)" : "") + " is not supported",
           "only Isolated splits are implemented");
    }
    const json& pattern = pt.at("pattern");
    if (pattern.contains("Regex")) {
      info.regexes.push_back(pattern.at("Regex").get<std::string>());
    } else {
      info.regexes.push_back(regex_escape(pattern.at("String").get<std::string>()));
    }
  } else if (type == "Digits") {
    info.regexes.push_back(pt.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+");
  } else if (type == "ByteLevel") {
    info.byte_level = true;
    if (pt.value("add_prefix_space", false)) {
      fail(path + ": ByteLevel pre_tokenizer with add_prefix_space = true is not supported",
           "convert the model to GGUF, or set add_prefix_space to false if the model allows");
    }
    if (pt.value("use_regex", true)) info.regexes.push_back(kGpt2Regex);
  } else if (type == "Metaspace") {
    info.metaspace = true;
    info.metaspace_split = pt.value("split", true);
    const std::string scheme = pt.value("prepend_scheme", pt.value("add_prefix_space", true) ? "always" : "never");
    info.metaspace_prepend = scheme == "always" || scheme == "first";
    info.metaspace_first_only = scheme == "first";
  } else {
    fail(path + ": pre_tokenizer type '" + type + "' is not supported",
         "supported: ByteLevel, Split (Isolated), Digits, Metaspace and Sequences of them");
  }
}

// Normalizer facts for SentencePiece-style BPE: does it replace ' ' with '▁' and prepend '▁'?
void read_normalizer(const json& n, const std::string& path, bool& replaces_space, bool& prepends) {
  if (n.is_null()) return;
  const std::string type = n.value("type", "");
  if (type == "Sequence") {
    for (const auto& child : n.at("normalizers")) read_normalizer(child, path, replaces_space, prepends);
  } else if (type == "Replace") {
    const json& pattern = n.at("pattern");
    if (pattern.value("String", "") == " " && n.value("content", "") == "\xE2\x96\x81") replaces_space = true;
  } else if (type == "Prepend") {
    if (n.value("prepend", "") == "\xE2\x96\x81") prepends = true;
  } else if (type == "NFC" || type == "NFKC") {
    // Ignored, as llama.cpp does: input text is expected to be normalized already.
  } else {
    fail(path + ": normalizer type '" + type + "' is not supported",
         "supported: Replace(' ' → '▁'), Prepend('▁'), NFC (ignored)");
  }
}

// A token given in tokenizer_config.json as a string or as {"content": ...}.
std::string token_string(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v.at("content").is_string()) return v.at("content").get<std::string>();
  return "";
}

int32_t find_token(const VocabSpec& spec, const std::string& text) {
  if (text.empty()) return -1;
  for (size_t i = 0; i < spec.tokens.size(); ++i) {
    if (spec.tokens[i] == text) return static_cast<int32_t>(i);
  }
  return -1;
}

// The JSON library's message without its "[json.exception.type_error.302] " code.
std::string json_message(const nlohmann::json::exception& e) {
  std::string m = e.what();
  const size_t close = m.find("] ");
  return close == std::string::npos ? m : m.substr(close + 2);
}

VocabSpec read_vocab(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string tok_path = (fs::path(dir) / "tokenizer.json").string();
  if (!fs::exists(tok_path)) {
    fail(tok_path + " does not exist", "a Hugging Face model directory needs tokenizer.json");
  }
  const json tj = read_json_file(tok_path, "tokenizer");
  VocabSpec spec;
  spec.source = tok_path;

  const json& model = tj.at("model");
  const std::string model_type = model.value("type", "");
  if (model_type != "BPE") {
    fail(tok_path + ": tokenizer model type '" + model_type + "' is not supported",
         "supported: BPE (byte-level, or SentencePiece-style with byte_fallback)");
  }

  // Vocabulary: model.vocab plus added tokens. The largest id sizes the token table, so it is
  // bounded by the entries there are (a few holes are filled with "[PAD<id>]", as
  // convert_hf_to_gguf.py does).
  auto bad = [&](const std::string& field, const std::string& why) {
    fail(tok_path + ": " + field + " " + why, "is this a Hugging Face tokenizer.json?");
  };
  if (!model.contains("vocab") || !model.at("vocab").is_object()) bad("model.vocab", "is not an object of token → id");
  std::map<int64_t, std::string> by_id;
  for (auto it = model.at("vocab").begin(); it != model.at("vocab").end(); ++it) {
    if (!it.value().is_number_integer()) bad("model.vocab['" + it.key() + "']", "is not an integer id");
    by_id[it.value().get<int64_t>()] = it.key();
  }
  std::map<int64_t, bool> added_special;  // id → special?
  if (tj.contains("added_tokens") && !tj.at("added_tokens").is_null()) {
    if (!tj.at("added_tokens").is_array()) bad("added_tokens", "is not a list");
    for (const auto& t : tj.at("added_tokens")) {
      if (!t.is_object() || !t.contains("id") || !t.at("id").is_number_integer() || !t.contains("content") ||
          !t.at("content").is_string())
        bad("added_tokens", "has an entry without an integer 'id' and a string 'content'");
      if (t.contains("special") && !t.at("special").is_boolean()) bad("added_tokens", "has a 'special' that is not true/false");
      const int64_t id = t.at("id").get<int64_t>();
      by_id[id] = t.at("content").get<std::string>();
      added_special[id] = t.value("special", false);
    }
  }
  if (by_id.empty()) bad("model.vocab", "is empty");
  if (by_id.begin()->first < 0) bad("token id " + std::to_string(by_id.begin()->first), "is negative");
  constexpr int64_t kMaxHoles = 1 << 16;
  if (by_id.rbegin()->first >= int64_t(by_id.size()) + kMaxHoles)
    bad("token id " + std::to_string(by_id.rbegin()->first),
        "is far beyond the " + std::to_string(by_id.size()) + " tokens the file defines");
  const int64_t n = by_id.rbegin()->first + 1;
  spec.tokens.resize(n);
  spec.token_types.assign(n, static_cast<int32_t>(TokenType::kUnused));
  for (int64_t i = 0; i < n; ++i) spec.tokens[i] = "[PAD" + std::to_string(i) + "]";
  for (const auto& [id, text] : by_id) {
    spec.tokens[id] = text;
    spec.token_types[id] = static_cast<int32_t>(TokenType::kNormal);
  }
  for (const auto& [id, special] : added_special) {
    spec.token_types[id] = static_cast<int32_t>(special ? TokenType::kControl : TokenType::kUserDefined);
  }

  // Merges: "a b" strings, or [a, b] pairs in newer files.
  for (const auto& m : model.at("merges")) {
    if (m.is_string()) {
      spec.merges.push_back(m.get<std::string>());
    } else {
      spec.merges.push_back(m.at(0).get<std::string>() + " " + m.at(1).get<std::string>());
    }
  }
  spec.ignore_merges = model.value("ignore_merges", false);
  const bool byte_fallback = model.value("byte_fallback", false);

  PreTokenizerInfo pre;
  read_pre_tokenizer(tj.value("pre_tokenizer", json()), tok_path, pre);
  const json decoder = tj.value("decoder", json());
  if (!pre.byte_level && !decoder.is_null() && decoder.value("type", "") == "ByteLevel") pre.byte_level = true;

  if (pre.byte_level) {
    spec.model = "gpt2";
    spec.pre = "hf";
    spec.pre_regexes = pre.regexes;
    bool replaces = false, prepends = false;
    read_normalizer(tj.value("normalizer", json()), tok_path, replaces, prepends);
  } else if (byte_fallback) {
    spec.model = "llama";
    spec.pre = "default";
    bool replaces = false, prepends = false;
    read_normalizer(tj.value("normalizer", json()), tok_path, replaces, prepends);
    if (!replaces && !pre.metaspace) {
      fail(tok_path + ": a byte_fallback BPE without a '▁' space replacement is not supported");
    }
    spec.add_space_prefix = prepends || pre.metaspace_prepend;
    spec.space_prefix_at_start_only = !prepends && pre.metaspace_first_only;
    spec.split_on_space_marker = pre.metaspace && pre.metaspace_split;
    for (int64_t i = 0; i < n; ++i) {
      const std::string& t = spec.tokens[i];
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' &&
          spec.token_types[i] == static_cast<int32_t>(TokenType::kNormal)) {
        spec.token_types[i] = static_cast<int32_t>(TokenType::kByte);
      }
    }
    const std::string unk = model.value("unk_token", json()).is_string() ? model.at("unk_token").get<std::string>() : "";
    spec.unk_id = find_token(spec, unk);
    if (spec.unk_id >= 0) spec.token_types[spec.unk_id] = static_cast<int32_t>(TokenType::kUnknown);
  } else {
    fail(tok_path + ": BPE without ByteLevel pre-tokenizer and without byte_fallback is not supported");
  }

  // tokenizer_config.json: special tokens, BOS/EOS flags, chat template.
  const std::string cfg_path = (fs::path(dir) / "tokenizer_config.json").string();
  bool add_bos_known = false;
  if (fs::exists(cfg_path)) {
    const json cfg = read_json_file(cfg_path, "tokenizer config");
    if (cfg.contains("bos_token")) spec.bos_id = find_token(spec, token_string(cfg.at("bos_token")));
    if (cfg.contains("eos_token")) spec.eos_id = find_token(spec, token_string(cfg.at("eos_token")));
    if (cfg.contains("pad_token")) spec.pad_id = find_token(spec, token_string(cfg.at("pad_token")));
    if (cfg.contains("unk_token")) {
      const int32_t unk = find_token(spec, token_string(cfg.at("unk_token")));
      if (unk >= 0) spec.unk_id = unk;
    }
    if (cfg.contains("add_bos_token") && cfg.at("add_bos_token").is_boolean()) {
      spec.add_bos = cfg.at("add_bos_token").get<bool>();
      add_bos_known = true;
    }
    if (cfg.contains("add_eos_token") && cfg.at("add_eos_token").is_boolean()) {
      spec.add_eos = cfg.at("add_eos_token").get<bool>();
    }
    if (cfg.contains("clean_up_tokenization_spaces") && cfg.at("clean_up_tokenization_spaces").is_boolean()) {
      spec.clean_spaces = cfg.at("clean_up_tokenization_spaces").get<bool>();
    }
    if (cfg.contains("chat_template")) {
      const json& ct = cfg.at("chat_template");
      if (ct.is_string()) {
        spec.chat_template = ct.get<std::string>();
      } else if (ct.is_array()) {  // [{name, template}, ...]: the "default" one
        for (const auto& entry : ct) {
          if (entry.value("name", "") == "default") spec.chat_template = entry.value("template", "");
        }
      }
    }
  }
  const std::string jinja_path = (fs::path(dir) / "chat_template.jinja").string();
  if (spec.chat_template.empty() && fs::exists(jinja_path)) spec.chat_template = read_regular_file(jinja_path, "chat template");

  // Without add_bos_token, the post-processor says whether BOS is added: a TemplateProcessing
  // whose single-sequence template starts with a special token.
  if (!add_bos_known) {
    const json pp = tj.value("post_processor", json());
    std::vector<json> procs;
    if (!pp.is_null() && pp.value("type", "") == "Sequence") {
      for (const auto& p : pp.at("processors")) procs.push_back(p);
    } else if (!pp.is_null()) {
      procs.push_back(pp);
    }
    for (const auto& p : procs) {
      if (p.value("type", "") != "TemplateProcessing") continue;
      const json& single = p.at("single");
      if (!single.empty() && single.at(0).contains("SpecialToken")) {
        const int32_t id = find_token(spec, single.at(0).at("SpecialToken").value("id", ""));
        if (id >= 0) {
          spec.add_bos = true;
          if (spec.bos_id < 0) spec.bos_id = id;
        }
      }
    }
  }
  detect_eot(spec);
  return spec;
}

}  // namespace

// Fields whose types are not checked one by one (pre-tokenizer and normalizer details) still
// fail with the file named, never with the JSON library's bare message.
VocabSpec vocab_from_hf(const std::string& dir) {
  try {
    return read_vocab(dir);
  } catch (const nlohmann::json::exception& e) {
    fail("the tokenizer files in " + dir + " (tokenizer.json, tokenizer_config.json) have an unexpected structure: " +
             json_message(e),
         "is this a Hugging Face tokenizer? convert the model to GGUF with llama.cpp if steer cannot read it");
  }
}

}  // namespace steer
