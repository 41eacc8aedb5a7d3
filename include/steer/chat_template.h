// Chat templates: turn a conversation into the exact prompt text a chat model was trained on,
// and say where the user's instruction ends.
//
//   steer::ChatTemplate tmpl = steer::ChatTemplate::detect(tok.chat_template_text(), tok);
//   steer::RenderedChat chat = tmpl.render({{"user", "How do I bake bread?"}});
//   int n_post = 0;
//   std::vector<int32_t> ids = steer::encode_chat(tok, chat, &n_post);
//   // ids[ids.size() - n_post ...] are the post-instruction tokens, e.g.
//   // "<|im_end|>\n<|im_start|>assistant\n" — where refusal directions are read.
//
// We do not run Jinja. A template is a small set of text pieces (ChatTemplate::Pieces) for one
// of the known layouts — chatml (Qwen, SmolLM2, Yi), llama2, llama3, gemma, mistral — chosen
// by markers in the model's own template text (detect), or given by the user as a JSON file
// (from_file). Default system prompts that a template injects when the conversation has none
// (SmolLM2's "You are a helpful AI assistant named SmolLM, trained by Hugging Face", Qwen2.5's
// "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.") are read out of the
// template text, not hard-coded. Tool calls and other template features are not rendered.
//
// Failure: detect() throws steer::Error when neither the template text nor the vocabulary
// names a known layout (hint: use a template file); from_file() names the file and the key.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace steer {

class Tokenizer;

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct RenderedChat {
  std::string prefix;            // everything up to and including the last user message's content
  std::string post_instruction;  // the rest, e.g. "<|im_end|>\n<|im_start|>assistant\n"
  std::string text() const { return prefix + post_instruction; }
};

enum class ChatTemplateKind { kChatML, kLlama2, kLlama3, kGemma, kMistral, kCustom };
const char* chat_template_kind_name(ChatTemplateKind kind);  // "chatml", "llama2", ...

class ChatTemplate {
 public:
  // The text pieces of a layout. A message renders as <role>_prefix + content + <role>_suffix;
  // the conversation starts with `bos`; add_generation_prompt appends `generation_prompt`.
  // These are also the keys of a template file (JSON object, all strings optional except as
  // noted, "\n" escapes as usual in JSON):
  //   {"bos": "", "system_prefix": "<|im_start|>system\n", "system_suffix": "<|im_end|>\n",
  //    "user_prefix": "<|im_start|>user\n", "user_suffix": "<|im_end|>\n",
  //    "assistant_prefix": "<|im_start|>assistant\n", "assistant_suffix": "<|im_end|>\n",
  //    "generation_prompt": "<|im_start|>assistant\n", "default_system": "",
  //    "system_in_first_user": false, "first_user_system_prefix": "",
  //    "first_user_system_suffix": "", "trim_content": false}
  // generation_prompt defaults to assistant_prefix when absent.
  struct Pieces {
    std::string bos;
    std::string system_prefix, system_suffix;
    std::string user_prefix, user_suffix;
    std::string assistant_prefix, assistant_suffix;
    std::string generation_prompt;
    std::string default_system;  // used when the conversation has no system message ("" = none)
    // Layouts without a system turn (llama2, gemma, mistral) put the system text inside the
    // first user message: first_user_system_prefix + system + first_user_system_suffix + user.
    bool system_in_first_user = false;
    std::string first_user_system_prefix, first_user_system_suffix;
    bool trim_content = false;  // strip leading/trailing whitespace of each message (Jinja `| trim`)
  };

  // Picks the layout from markers in `jinja_text`: "<|im_start|>" → chatml, "<start_of_turn>"
  // → gemma, "<|start_header_id|>" → llama3, "[INST]" with "<<SYS>>" → llama2, "[INST]" →
  // mistral. With empty text (a model without a template), falls back to the vocabulary's
  // special tokens (<|im_start|>, <start_of_turn>, <|start_header_id|>, [INST]) and records
  // that (is_fallback()). BOS text comes from the tokenizer where the layout starts with BOS.
  static ChatTemplate detect(const std::string& jinja_text, const Tokenizer& tok);
  // A user template file (format above).
  static ChatTemplate from_file(const std::string& path);
  static ChatTemplate from_pieces(Pieces pieces, ChatTemplateKind kind = ChatTemplateKind::kCustom);

  ChatTemplateKind kind() const { return kind_; }
  const char* name() const { return chat_template_kind_name(kind_); }
  bool is_fallback() const { return fallback_; }
  // How the layout was chosen, e.g. "template text contains <|im_start|>" or "no template
  // text; vocabulary has <start_of_turn>".
  const std::string& source() const { return source_; }
  const Pieces& pieces() const { return pieces_; }

  // Renders a conversation. Roles other than system/user/assistant throw steer::Error. When
  // there is no user message, prefix holds the whole text and post_instruction is empty.
  RenderedChat render(const std::vector<ChatMessage>& messages, bool add_generation_prompt = true) const;

 private:
  ChatTemplateKind kind_ = ChatTemplateKind::kCustom;
  Pieces pieces_;
  bool fallback_ = false;
  std::string source_;
};

// Token ids of a rendered chat: prefix and post_instruction are tokenized separately (special
// tokens parsed, no BOS added beyond what the template text holds, the post-instruction part
// tokenized as a continuation: no SentencePiece space prefix) and concatenated, so the last
// *post_instruction_len ids are exactly the post-instruction tokens. The pointer may be null.
std::vector<int32_t> encode_chat(const Tokenizer& tok, const RenderedChat& chat, int* post_instruction_len);

}  // namespace steer
