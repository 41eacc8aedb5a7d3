// Chat templates on synthetic vocabularies: layout detection from template markers and from
// the vocabulary, default system prompts read from template text, each layout's rendering
// (expected strings written from the families' Hugging Face templates), template files, and
// the exact post-instruction span of encode_chat.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "steer/error.h"
#include "steer/chat_template.h"
#include "steer/gguf.h"
#include "steer/tokenizer.h"
#include "test_paths.h"
#include "tokenizer/utf8.h"

namespace steer {
namespace {

// A byte-level vocabulary with the given special tokens (control type).
Tokenizer vocab_with(const std::vector<std::string>& specials, const std::string& bos = "",
                     const std::string& eos = "") {
  VocabSpec spec;
  spec.model = "gpt2";
  spec.pre = "gpt-2";
  for (int b = 0; b < 256; ++b) spec.tokens.push_back(utf8::byte_to_unicode(static_cast<uint8_t>(b)));
  spec.token_types.assign(256, 1);
  for (const auto& s : specials) {
    spec.tokens.push_back(s);
    spec.token_types.push_back(static_cast<int32_t>(TokenType::kControl));
    if (s == bos) spec.bos_id = static_cast<int32_t>(spec.tokens.size() - 1);
    if (s == eos) spec.eos_id = static_cast<int32_t>(spec.tokens.size() - 1);
  }
  return Tokenizer::from_spec(spec);
}

const char* const kSmolLMTemplate =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|im_start|>assistant\n' }}{% endif %}";

// Qwen2.5's template writes "\n" as an escape inside Jinja strings and opens with a tools
// branch whose "<|im_start|>system\n" is followed by Jinja, not a literal prompt.
const char* const kQwenTemplate =
    "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == "
    "'system' %}\n        {{- messages[0]['content'] }}\n    {%- else %}\n        {{- 'You are "
    "Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n{%- else "
    "%}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + "
    "messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n        {{- "
    "'<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}";

TEST(ChatTemplate, ChatMLReadsDefaultSystemPromptsFromTemplateText) {
  const Tokenizer tok = vocab_with({"<|im_start|>", "<|im_end|>"});
  const ChatTemplate smol = ChatTemplate::detect(kSmolLMTemplate, tok);
  EXPECT_EQ(smol.kind(), ChatTemplateKind::kChatML);
  EXPECT_FALSE(smol.is_fallback());
  EXPECT_EQ(smol.pieces().default_system, "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  const ChatTemplate qwen = ChatTemplate::detect(kQwenTemplate, tok);
  EXPECT_EQ(qwen.pieces().default_system, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");

  const RenderedChat chat = smol.render({{"user", "Hi"}});
  EXPECT_EQ(chat.prefix,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nHi");
  EXPECT_EQ(chat.post_instruction, "<|im_end|>\n<|im_start|>assistant\n");
  // A given system message replaces the default; no generation prompt on request.
  EXPECT_EQ(smol.render({{"system", "S"}, {"user", "U"}, {"assistant", "A"}}, false).text(),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n");
}

TEST(ChatTemplate, DetectsEachLayoutByItsMarkers) {
  const Tokenizer tok = vocab_with({"<s>", "</s>"}, "<s>", "</s>");
  EXPECT_EQ(ChatTemplate::detect("{{ '<start_of_turn>' + role }}", tok).kind(), ChatTemplateKind::kGemma);
  EXPECT_EQ(ChatTemplate::detect("'<|start_header_id|>' + message['role']", tok).kind(), ChatTemplateKind::kLlama3);
  EXPECT_EQ(ChatTemplate::detect("'[INST] ' + '<<SYS>>\\n'", tok).kind(), ChatTemplateKind::kLlama2);
  EXPECT_EQ(ChatTemplate::detect("'[INST] ' + content + ' [/INST]'", tok).kind(), ChatTemplateKind::kMistral);
  EXPECT_THROW(ChatTemplate::detect("{{ messages | unknown_layout }}", tok), Error);
  EXPECT_THROW(ChatTemplate::detect("", tok), Error);  // no text, no known markers in the vocabulary
}

TEST(ChatTemplate, FallsBackToVocabularyMarkersWithoutTemplateText) {
  const ChatTemplate t = ChatTemplate::detect("", vocab_with({"<|im_start|>", "<|im_end|>"}));
  EXPECT_EQ(t.kind(), ChatTemplateKind::kChatML);
  EXPECT_TRUE(t.is_fallback());
  EXPECT_NE(t.source().find("<|im_start|>"), std::string::npos);
  EXPECT_TRUE(t.pieces().default_system.empty());
  const ChatTemplate g = ChatTemplate::detect("", vocab_with({"<bos>", "<start_of_turn>", "<end_of_turn>"}, "<bos>"));
  EXPECT_EQ(g.kind(), ChatTemplateKind::kGemma);
  EXPECT_TRUE(g.is_fallback());
}

TEST(ChatTemplate, RendersLlama3Llama2MistralGemma) {
  const std::vector<ChatMessage> conv = {
      {"system", "Be brief."}, {"user", " Hi "}, {"assistant", "Hello"}, {"user", "Again"}};
  const Tokenizer l3 = vocab_with({"<|begin_of_text|>", "<|eot_id|>"}, "<|begin_of_text|>");
  EXPECT_EQ(ChatTemplate::detect("<|start_header_id|>", l3).render(conv).text(),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nAgain<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  const Tokenizer sp = vocab_with({"<s>", "</s>"}, "<s>", "</s>");
  const RenderedChat l2 = ChatTemplate::detect("[INST] <<SYS>>", sp).render(conv);
  EXPECT_EQ(l2.text(), "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] Again [/INST]");
  EXPECT_EQ(l2.post_instruction, " [/INST]");
  EXPECT_EQ(ChatTemplate::detect("[INST]", sp).render(conv).text(),
            "<s>[INST] Be brief.\n\n Hi  [/INST]Hello</s>[INST] Again [/INST]");
  const Tokenizer gm = vocab_with({"<bos>", "<start_of_turn>", "<end_of_turn>"}, "<bos>");
  EXPECT_EQ(ChatTemplate::detect("<start_of_turn>", gm).render(conv).text(),
            "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n"
            "<start_of_turn>user\nAgain<end_of_turn>\n<start_of_turn>model\n");
  // Bad roles and late system messages in merged-system layouts are refused.
  EXPECT_THROW(ChatTemplate::detect("<start_of_turn>", gm).render({{"tool", "x"}}), Error);
  EXPECT_THROW(ChatTemplate::detect("<start_of_turn>", gm).render({{"user", "a"}, {"system", "b"}}), Error);
  // Without a user message the whole text is the prefix.
  const RenderedChat none = ChatTemplate::detect("<start_of_turn>", gm).render({}, true);
  EXPECT_EQ(none.prefix, "<bos><start_of_turn>model\n");
  EXPECT_TRUE(none.post_instruction.empty());
}

TEST(ChatTemplate, TemplateFiles) {
  const std::string dir = ::testing::TempDir() + "/steer_chat_tmpl";
  std::filesystem::create_directories(dir);
  const std::string good = dir + "/good.json";
  std::ofstream(good) << R"({"bos": "<s>", "user_prefix": "### User:\n", "user_suffix": "\n",
    "assistant_prefix": "### Assistant:\n", "assistant_suffix": "\n", "default_system": "Be nice.",
    "system_prefix": "### System:\n", "system_suffix": "\n"})";
  const ChatTemplate t = ChatTemplate::from_file(good);
  EXPECT_EQ(t.kind(), ChatTemplateKind::kCustom);
  const RenderedChat c = t.render({{"user", "Hi"}});
  EXPECT_EQ(c.text(), "<s>### System:\nBe nice.\n### User:\nHi\n### Assistant:\n");
  EXPECT_EQ(c.post_instruction, "\n### Assistant:\n");
  std::ofstream(dir + "/typo.json") << R"({"user_prefx": "x"})";
  try {
    ChatTemplate::from_file(dir + "/typo.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("user_prefx"), std::string::npos);
  }
  std::ofstream(dir + "/type.json") << R"({"user_prefix": 3})";
  EXPECT_THROW(ChatTemplate::from_file(dir + "/type.json"), Error);
  std::ofstream(dir + "/empty.json") << R"({"bos": "x"})";
  EXPECT_THROW(ChatTemplate::from_file(dir + "/empty.json"), Error);
  EXPECT_THROW(ChatTemplate::from_file(dir + "/missing.json"), Error);
  std::filesystem::remove_all(dir);
}

// With a SentencePiece vocabulary the tail is tokenized as a continuation (no "▁" prefix),
// so its ids are exactly the post-instruction span.
TEST(ChatTemplate, EncodeChatSplitsExactlyAtTheInstructionEnd) {
  const Tokenizer tok = Tokenizer::from_gguf(*GGUFFile::open(test::tiny_model()));
  ChatTemplate::Pieces p;
  p.bos = "<s>";
  p.user_prefix = "Q: ";
  p.user_suffix = "\nA:";
  const ChatTemplate t = ChatTemplate::from_pieces(p);
  const RenderedChat chat = t.render({{"user", "Once upon a time"}});
  int n_post = 0;
  const auto ids = encode_chat(tok, chat, &n_post);
  EXPECT_EQ(ids.front(), tok.bos_id());
  const std::vector<int32_t> tail(ids.end() - n_post, ids.end());
  EXPECT_EQ(tail, tok.encode_continuation("\nA:"));
  EXPECT_EQ(tok.decode(tail), "\nA:");
  EXPECT_EQ(tok.decode(std::vector<int32_t>(ids.begin(), ids.end() - n_post), true), "Q: Once upon a time");
  EXPECT_EQ(encode_chat(tok, chat, nullptr), ids);
}

}  // namespace
}  // namespace steer
