// Chat templates as text pieces per layout; detection from template markers (see chat_template.h).
//
// The layouts reproduce the Hugging Face templates of the model families:
//   chatml  <|im_start|>{role}\n{content}<|im_end|>\n ... <|im_start|>assistant\n
//           (Qwen2.5 and SmolLM2 inject a default system turn when none is given)
//   llama3  <|begin_of_text|><|start_header_id|>{role}<|end_header_id|>\n\n{content|trim}<|eot_id|>
//   gemma   <bos><start_of_turn>user\n{system\n\n}{content|trim}<end_of_turn>\n<start_of_turn>model\n
//   llama2  <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s>
//   mistral <s>[INST] {system\n\n}{user} [/INST]{assistant}</s>
#include "steer/chat_template.h"

#include <fstream>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "io/read_file.h"
#include "steer/error.h"
#include "steer/tokenizer.h"

namespace steer {

const char* chat_template_kind_name(ChatTemplateKind kind) {
  switch (kind) {
    case ChatTemplateKind::kChatML: return "chatml";
    case ChatTemplateKind::kLlama2: return "llama2";
    case ChatTemplateKind::kLlama3: return "llama3";
    case ChatTemplateKind::kGemma: return "gemma";
    case ChatTemplateKind::kMistral: return "mistral";
    case ChatTemplateKind::kCustom: return "custom";
  }
  return "custom";
}

namespace {

bool contains(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

std::string trim(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

// Undoes the escapes of a Jinja string literal (\n, \t, \', \", \\).
std::string jinja_unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char c = s[++i];
      switch (c) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        default: out += c; break;
      }
    } else {
      out += s[i];
    }
  }
  return out;
}

// A default system prompt written literally in a chatml template: the text between
// "<|im_start|>system\n" (newline real or escaped) and "<|im_end|>" that contains no Jinja.
std::string chatml_default_system(const std::string& t) {
  const std::string open = "<|im_start|>system";
  for (size_t pos = t.find(open); pos != std::string::npos; pos = t.find(open, pos + 1)) {
    size_t start = pos + open.size();
    if (t.compare(start, 2, "\\n") == 0) {
      start += 2;
    } else if (start < t.size() && t[start] == '\n') {
      start += 1;
    } else {
      continue;
    }
    const size_t end = t.find("<|im_end|>", start);
    if (end == std::string::npos) continue;
    const std::string body = t.substr(start, end - start);
    // Jinja (an expression, a tag, a quote closing the literal) means this is not a literal prompt.
    if (body.empty() || contains(body, "{{") || contains(body, "{%") || contains(body, "'") ||
        contains(body, "\"") || contains(body, "}}")) {
      continue;
    }
    return jinja_unescape(body);
  }
  return "";
}

std::string bos_text(const Tokenizer& tok) {
  return tok.bos_id() >= 0 ? tok.token_text(tok.bos_id()) : std::string();
}
std::string eos_text(const Tokenizer& tok) {
  return tok.eos_id() >= 0 ? tok.token_text(tok.eos_id()) : std::string();
}

ChatTemplate::Pieces chatml_pieces() {
  ChatTemplate::Pieces p;
  for (auto [prefix, suffix, role] :
       {std::tuple{&p.system_prefix, &p.system_suffix, "system"},
        std::tuple{&p.user_prefix, &p.user_suffix, "user"},
        std::tuple{&p.assistant_prefix, &p.assistant_suffix, "assistant"}}) {
    *prefix = std::string("<|im_start|>") + role + "\n";
    *suffix = "<|im_end|>\n";
  }
  p.generation_prompt = "<|im_start|>assistant\n";
  return p;
}

ChatTemplate::Pieces pieces_for(ChatTemplateKind kind, const Tokenizer& tok) {
  ChatTemplate::Pieces p;
  switch (kind) {
    case ChatTemplateKind::kChatML:
      return chatml_pieces();
    case ChatTemplateKind::kLlama3:
      p.bos = bos_text(tok);
      for (auto [prefix, suffix, role] :
           {std::tuple{&p.system_prefix, &p.system_suffix, "system"},
            std::tuple{&p.user_prefix, &p.user_suffix, "user"},
            std::tuple{&p.assistant_prefix, &p.assistant_suffix, "assistant"}}) {
        *prefix = std::string("<|start_header_id|>") + role + "<|end_header_id|>\n\n";
        *suffix = "<|eot_id|>";
      }
      p.generation_prompt = "<|start_header_id|>assistant<|end_header_id|>\n\n";
      p.trim_content = true;
      return p;
    case ChatTemplateKind::kGemma:
      p.bos = bos_text(tok);
      p.user_prefix = "<start_of_turn>user\n";
      p.user_suffix = "<end_of_turn>\n";
      p.assistant_prefix = "<start_of_turn>model\n";
      p.assistant_suffix = "<end_of_turn>\n";
      p.generation_prompt = "<start_of_turn>model\n";
      p.system_in_first_user = true;
      p.first_user_system_suffix = "\n\n";
      p.trim_content = true;
      return p;
    case ChatTemplateKind::kLlama2:
      p.user_prefix = bos_text(tok) + "[INST] ";
      p.user_suffix = " [/INST]";
      p.assistant_prefix = " ";
      p.assistant_suffix = " " + eos_text(tok);
      p.system_in_first_user = true;
      p.first_user_system_prefix = "<<SYS>>\n";
      p.first_user_system_suffix = "\n<</SYS>>\n\n";
      p.trim_content = true;
      return p;
    case ChatTemplateKind::kMistral:
      p.bos = bos_text(tok);
      p.user_prefix = "[INST] ";
      p.user_suffix = " [/INST]";
      p.assistant_suffix = eos_text(tok);
      p.system_in_first_user = true;
      p.first_user_system_suffix = "\n\n";
      return p;
    case ChatTemplateKind::kCustom:
      break;
  }
  return p;
}

}  // namespace

ChatTemplate ChatTemplate::from_pieces(Pieces pieces, ChatTemplateKind kind) {
  ChatTemplate t;
  t.kind_ = kind;
  t.pieces_ = std::move(pieces);
  t.source_ = "given pieces";
  return t;
}

ChatTemplate ChatTemplate::detect(const std::string& jinja_text, const Tokenizer& tok) {
  ChatTemplate t;
  if (!jinja_text.empty()) {
    if (contains(jinja_text, "<|im_start|>")) {
      t.kind_ = ChatTemplateKind::kChatML;
      t.source_ = "template text contains <|im_start|>";
    } else if (contains(jinja_text, "<start_of_turn>")) {
      t.kind_ = ChatTemplateKind::kGemma;
      t.source_ = "template text contains <start_of_turn>";
    } else if (contains(jinja_text, "<|start_header_id|>")) {
      t.kind_ = ChatTemplateKind::kLlama3;
      t.source_ = "template text contains <|start_header_id|>";
    } else if (contains(jinja_text, "[INST]") && contains(jinja_text, "<<SYS>>")) {
      t.kind_ = ChatTemplateKind::kLlama2;
      t.source_ = "template text contains [INST] and <<SYS>>";
    } else if (contains(jinja_text, "[INST]")) {
      t.kind_ = ChatTemplateKind::kMistral;
      t.source_ = "template text contains [INST]";
    } else {
      fail("the model's chat template is not one of the known layouts (chatml, llama2, llama3, "
           "gemma, mistral)",
           "pass --chat-template FILE: a JSON object of the template's pieces (user_prefix, user_suffix, "
           "assistant_prefix, ...)");
    }
  } else {
    t.fallback_ = true;
    if (tok.token_id("<|im_start|>") >= 0) {
      t.kind_ = ChatTemplateKind::kChatML;
      t.source_ = "no template text; vocabulary has <|im_start|>";
    } else if (tok.token_id("<start_of_turn>") >= 0) {
      t.kind_ = ChatTemplateKind::kGemma;
      t.source_ = "no template text; vocabulary has <start_of_turn>";
    } else if (tok.token_id("<|start_header_id|>") >= 0) {
      t.kind_ = ChatTemplateKind::kLlama3;
      t.source_ = "no template text; vocabulary has <|start_header_id|>";
    } else if (tok.token_id("[INST]") >= 0) {
      t.kind_ = ChatTemplateKind::kMistral;
      t.source_ = "no template text; vocabulary has [INST]";
    } else {
      fail("the model has no chat template and its vocabulary has none of the known turn markers",
           "pass --chat-template FILE: a JSON object of the template's pieces (user_prefix, user_suffix, "
           "assistant_prefix, ...)");
    }
  }
  t.pieces_ = pieces_for(t.kind_, tok);
  if (t.kind_ == ChatTemplateKind::kChatML) t.pieces_.default_system = chatml_default_system(jinja_text);
  return t;
}

ChatTemplate ChatTemplate::from_file(const std::string& path) {
  const nlohmann::json j = read_json_file(path, "chat template file (--chat-template)", size_t(1) << 20);
  if (!j.is_object()) fail(path + ": a chat template file must hold a JSON object");
  Pieces p;
  const std::pair<const char*, std::string*> strings[] = {
      {"bos", &p.bos},
      {"system_prefix", &p.system_prefix},
      {"system_suffix", &p.system_suffix},
      {"user_prefix", &p.user_prefix},
      {"user_suffix", &p.user_suffix},
      {"assistant_prefix", &p.assistant_prefix},
      {"assistant_suffix", &p.assistant_suffix},
      {"generation_prompt", &p.generation_prompt},
      {"default_system", &p.default_system},
      {"first_user_system_prefix", &p.first_user_system_prefix},
      {"first_user_system_suffix", &p.first_user_system_suffix},
  };
  const std::pair<const char*, bool*> flags[] = {
      {"system_in_first_user", &p.system_in_first_user},
      {"trim_content", &p.trim_content},
  };
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const auto& [key, field] : strings) {
      if (it.key() != key) continue;
      if (!it.value().is_string()) fail(path + ": key '" + key + "' must be a string");
      *field = it.value().get<std::string>();
      known = true;
    }
    for (const auto& [key, field] : flags) {
      if (it.key() != key) continue;
      if (!it.value().is_boolean()) fail(path + ": key '" + key + "' must be true or false");
      *field = it.value().get<bool>();
      known = true;
    }
    if (!known) {
      fail(path + ": unknown key '" + it.key() + "'",
           "keys: bos, system_prefix, system_suffix, user_prefix, user_suffix, assistant_prefix, "
           "assistant_suffix, generation_prompt, default_system, system_in_first_user, "
           "first_user_system_prefix, first_user_system_suffix, trim_content");
    }
  }
  if (!j.contains("generation_prompt")) p.generation_prompt = p.assistant_prefix;
  if (p.user_prefix.empty() && p.user_suffix.empty()) {
    fail(path + ": user_prefix and user_suffix are both empty", "a template must mark user turns");
  }
  ChatTemplate t;
  t.kind_ = ChatTemplateKind::kCustom;
  t.pieces_ = std::move(p);
  t.source_ = "template file " + path;
  return t;
}

RenderedChat ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  const Pieces& p = pieces_;
  std::string text = p.bos;
  size_t user_end = std::string::npos;  // text position just after the last user content

  // The system text: the first message when it is a system message, else the default.
  size_t first = 0;
  std::string system;
  bool has_system = false;
  if (!messages.empty() && messages[0].role == "system") {
    system = messages[0].content;
    has_system = true;
    first = 1;
  } else if (!p.default_system.empty()) {
    system = p.default_system;
    has_system = true;
  }
  if (has_system && !p.system_in_first_user) {
    text += p.system_prefix + (p.trim_content ? trim(system) : system) + p.system_suffix;
  }
  bool first_user = true;
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    std::string content = p.trim_content ? trim(m.content) : m.content;
    if (m.role == "user") {
      if (first_user && has_system && p.system_in_first_user) {
        content = p.first_user_system_prefix + system + p.first_user_system_suffix + content;
      }
      first_user = false;
      text += p.user_prefix + content;
      user_end = text.size();
      text += p.user_suffix;
    } else if (m.role == "assistant") {
      text += p.assistant_prefix + content + p.assistant_suffix;
    } else if (m.role == "system") {
      if (p.system_in_first_user) {
        fail("chat message " + std::to_string(i) + ": a system message after the first is not supported by the " +
                 std::string(name()) + " layout",
             "put the system message first");
      }
      text += p.system_prefix + content + p.system_suffix;
    } else {
      fail("chat message " + std::to_string(i) + " has role '" + m.role + "'",
           "roles are system, user and assistant");
    }
  }
  if (add_generation_prompt) text += p.generation_prompt;
  RenderedChat out;
  if (user_end == std::string::npos) {
    out.prefix = text;
  } else {
    out.prefix = text.substr(0, user_end);
    out.post_instruction = text.substr(user_end);
  }
  return out;
}

std::vector<int32_t> encode_chat(const Tokenizer& tok, const RenderedChat& chat, int* post_instruction_len) {
  std::vector<int32_t> ids = tok.encode(chat.prefix, /*add_bos=*/false, /*parse_special=*/true);
  const std::vector<int32_t> post = tok.encode_continuation(chat.post_instruction, /*parse_special=*/true);
  ids.insert(ids.end(), post.begin(), post.end());
  if (post_instruction_len) *post_instruction_len = static_cast<int>(post.size());
  return ids;
}

}  // namespace steer
