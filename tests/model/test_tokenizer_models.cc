// Tokenizers and chat templates of the three default models against Hugging Face
// (tests/data/tokenizer/<model>.json, made by tools/reference/make_tokenizer_fixtures.py from
// the same GGUF files), llama.cpp's qwen2 test vectors, the tokenizer.json loader, and speed.
//
// Tolerance: none — ids, rendered chat text and decoded text must be identical.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>

#include "steer/chat_template.h"
#include "steer/gguf.h"
#include "steer/tokenizer.h"
#include "test_paths.h"
#include "tokenizer_test_util.h"

namespace steer {
namespace {

using json = nlohmann::json;

json fixture(const std::string& model) {
  return json::parse(test::read_file(test::test_data() + "/tokenizer/" + model + ".json"));
}

const char* const kModels[] = {"smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m"};

// Every fixture string, with and without special tokens, and decoding back.
TEST(TokenizerModels, MatchHuggingFaceOnEveryDefaultModel) {
  std::string table = "\nmodel                 cases  ids  ids+special  decode  decode-skip\n";
  for (const std::string model : kModels) {
    SCOPED_TRACE(model);
    const std::string path = test::default_model(model);
    if (path.empty()) continue;
    const Tokenizer tok = Tokenizer::from_gguf(*GGUFFile::open(path));
    const json fx = fixture(model);
    EXPECT_EQ(tok.bos_id(), fx.at("bos_id").get<int32_t>());
    EXPECT_EQ(tok.eos_id(), fx.at("eos_id").get<int32_t>());
    int n = 0, ids_ok = 0, special_ok = 0, decode_ok = 0, skip_ok = 0;
    for (const auto& c : fx.at("cases")) {
      const std::string text = c.at("text");
      const auto want = c.at("ids").get<std::vector<int32_t>>();
      const auto got = tok.encode(text, /*add_bos=*/false);
      ++n;
      if (got == want) ++ids_ok; else ADD_FAILURE() << "ids of '" << text << "'\n  hf  " << ::testing::PrintToString(want) << "\n  got " << ::testing::PrintToString(got);
      const auto want_special = c.at("ids_add_special").get<std::vector<int32_t>>();
      const auto got_special = tok.encode(text, /*add_bos=*/true);
      if (got_special == want_special) ++special_ok; else ADD_FAILURE() << "ids+special of '" << text << "'";
      const std::string dec = tok.decode(want);
      if (dec == c.at("decoded").get<std::string>()) ++decode_ok; else ADD_FAILURE() << "decode of '" << text << "': '" << dec << "' vs hf '" << c.at("decoded").get<std::string>() << "'";
      const std::string dec_skip = tok.decode(want, /*skip_special=*/true);
      if (dec_skip == c.at("decoded_skip_special").get<std::string>()) ++skip_ok; else ADD_FAILURE() << "decode(skip) of '" << text << "': '" << dec_skip << "' vs hf '" << c.at("decoded_skip_special").get<std::string>() << "'";
    }
    char line[200];
    std::snprintf(line, sizeof(line), "%-20s %6d %4d %12d %7d %12d\n", model.c_str(), n, ids_ok, special_ok, decode_ok, skip_ok);
    table += line;
  }
  std::printf("%s\n", table.c_str());
}

// llama.cpp's qwen2 vectors (without-gguf/ggml-vocab-qwen2.gguf.*): the Qwen2.5 default model
// has the same vocabulary and pre-tokenizer, so its tokenizer must reproduce them.
TEST(TokenizerModels, QwenReproducesLlamaCppQwen2Vectors) {
  const std::string path = test::default_model("qwen2.5-coder-0.5b");
  if (path.empty()) return;
  const Tokenizer tok = Tokenizer::from_gguf(*GGUFFile::open(path));
  const std::string base = test::shared_data() + "/tokenizer-vectors/without-gguf/ggml-vocab-qwen2.gguf";
  const auto cases = test::read_vector_cases(base + ".inp", base + ".out");
  int passed = 0;
  for (const auto& c : cases) {
    const auto ids = tok.encode(c.text, /*add_bos=*/false, /*parse_special=*/false);
    if (ids == c.ids) ++passed; else ADD_FAILURE() << "'" << c.text << "'\n  expected " << ::testing::PrintToString(c.ids) << "\n  got      " << ::testing::PrintToString(ids);
  }
  std::printf("qwen2 vectors (Qwen2.5 vocabulary): %d/%zu\n", passed, cases.size());
  EXPECT_EQ(passed, static_cast<int>(cases.size()));
}

// tokenizer.json + tokenizer_config.json (SmolLM2, saved by the fixture tool) give the same
// vocabulary and the same ids as the GGUF.
TEST(TokenizerModels, HuggingFaceDirectoryMatchesGGUF) {
  const std::string path = test::default_model("smollm2-135m");
  if (path.empty()) return;
  const Tokenizer from_gguf = Tokenizer::from_gguf(*GGUFFile::open(path));
  const Tokenizer from_hf = Tokenizer::from_hf_dir(test::test_data() + "/tokenizer/hf/smollm2-135m");
  ASSERT_EQ(from_hf.vocab_size(), from_gguf.vocab_size());
  EXPECT_EQ(from_hf.spec().tokens, from_gguf.spec().tokens);
  EXPECT_EQ(from_hf.spec().token_types, from_gguf.spec().token_types);
  EXPECT_EQ(from_hf.spec().merges, from_gguf.spec().merges);
  EXPECT_EQ(from_hf.bos_id(), from_gguf.bos_id());
  EXPECT_EQ(from_hf.eos_id(), from_gguf.eos_id());
  EXPECT_EQ(from_hf.add_bos_default(), from_gguf.add_bos_default());
  EXPECT_EQ(from_hf.stop_ids(), from_gguf.stop_ids());
  EXPECT_FALSE(from_hf.chat_template_text().empty());
  const json fx = fixture("smollm2-135m");
  int passed = 0, n = 0;
  for (const auto& c : fx.at("cases")) {
    const std::string text = c.at("text");
    const auto ids = from_hf.encode(text);
    ++n;
    if (ids == c.at("ids").get<std::vector<int32_t>>()) ++passed; else ADD_FAILURE() << "'" << text << "'";
    EXPECT_EQ(ids, from_gguf.encode(text));
  }
  std::printf("tokenizer.json loader (smollm2-135m): %d/%d\n", passed, n);
}

// Rendered chat text and ids equal apply_chat_template's; the post-instruction span is exact.
TEST(TokenizerModels, ChatTemplatesMatchHuggingFace) {
  for (const std::string model : {"smollm2-135m", "qwen2.5-coder-0.5b"}) {
    SCOPED_TRACE(model);
    const std::string path = test::default_model(model);
    if (path.empty()) continue;
    const Tokenizer tok = Tokenizer::from_gguf(*GGUFFile::open(path));
    const ChatTemplate tmpl = ChatTemplate::detect(tok.chat_template_text(), tok);
    EXPECT_EQ(tmpl.kind(), ChatTemplateKind::kChatML);
    EXPECT_FALSE(tmpl.is_fallback());
    const json fx = fixture(model);
    ASSERT_FALSE(fx.at("chat").empty());
    int passed = 0, n = 0;
    for (const auto& c : fx.at("chat")) {
      std::vector<ChatMessage> messages;
      for (const auto& m : c.at("messages")) messages.push_back({m.at("role"), m.at("content")});
      const RenderedChat chat = tmpl.render(messages);
      int n_post = -1;
      const auto ids = encode_chat(tok, chat, &n_post);
      ++n;
      const bool ok = chat.text() == c.at("text").get<std::string>() && ids == c.at("ids").get<std::vector<int32_t>>();
      if (ok) ++passed;
      EXPECT_EQ(chat.text(), c.at("text").get<std::string>());
      EXPECT_EQ(ids, c.at("ids").get<std::vector<int32_t>>());
      // The last user message's content ends the prefix; the tail is the post-instruction.
      EXPECT_EQ(chat.post_instruction, "<|im_end|>\n<|im_start|>assistant\n");
      ASSERT_GT(n_post, 0);
      const std::vector<int32_t> tail(ids.end() - n_post, ids.end());
      EXPECT_EQ(tok.decode(tail), chat.post_instruction);
      EXPECT_EQ(tail, tok.encode(chat.post_instruction));
    }
    std::printf("chat template %s (%s, default system '%s'): %d/%d\n", model.c_str(), tmpl.name(),
                tmpl.pieces().default_system.c_str(), passed, n);
  }
}

// Gemma 3 270M has no template in its GGUF: the layout comes from <start_of_turn> in the
// vocabulary, and the rendering is Gemma's (BOS text, system merged into the first user turn).
TEST(TokenizerModels, GemmaFallsBackToVocabularyMarkers) {
  const std::string path = test::default_model("gemma3-270m");
  if (path.empty()) return;
  const Tokenizer tok = Tokenizer::from_gguf(*GGUFFile::open(path));
  ASSERT_TRUE(tok.chat_template_text().empty());
  const ChatTemplate tmpl = ChatTemplate::detect(tok.chat_template_text(), tok);
  EXPECT_EQ(tmpl.kind(), ChatTemplateKind::kGemma);
  EXPECT_TRUE(tmpl.is_fallback());
  const RenderedChat chat = tmpl.render({{"system", "Be terse."}, {"user", " Hi there "}});
  EXPECT_EQ(chat.text(), "<bos><start_of_turn>user\nBe terse.\n\nHi there<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(chat.post_instruction, "<end_of_turn>\n<start_of_turn>model\n");
  int n_post = 0;
  const auto ids = encode_chat(tok, chat, &n_post);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), tok.bos_id());  // BOS once, from the template text
  EXPECT_NE(ids[1], tok.bos_id());
  EXPECT_EQ(ids, tok.encode(chat.text()));
  const std::vector<int32_t> tail(ids.end() - n_post, ids.end());
  EXPECT_EQ(tail, (std::vector<int32_t>{tok.token_id("<end_of_turn>"), tok.token_id("\n"),
                                        tok.token_id("<start_of_turn>"), tok.token_id("model"),
                                        tok.token_id("\n")}));
  EXPECT_EQ(tok.decode(tail), chat.post_instruction);
  EXPECT_EQ(tok.stop_ids(), (std::vector<int32_t>{tok.eos_id(), tok.token_id("<end_of_turn>")}));
}

// 100k characters of text with few repeated words (so the word cache helps little) encode
// well under a second on every default model.
TEST(TokenizerModels, EncodesLongTextFast) {
  const char* const parts[] = {"a", "e", "i", "o", "u", "n", "st", "r", "l", "th", "k", "ü", "é",
                               "ж", "中", "😀", "7", "42", "_", " ", " ", " ", ".", ",", "\n", "  "};
  std::string text;
  uint32_t state = 12345;
  while (text.size() < 100000) {
    state = state * 1664525u + 1013904223u;  // a fixed LCG: the same text every run
    text += parts[(state >> 16) % (sizeof(parts) / sizeof(parts[0]))];
  }
  for (const std::string model : kModels) {
    const std::string path = test::default_model(model);
    if (path.empty()) continue;
    const Tokenizer tok = Tokenizer::from_gguf(*GGUFFile::open(path));
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok.encode(text);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: %zu bytes -> %zu ids in %.3f s\n", model.c_str(), text.size(), ids.size(), s);
    EXPECT_LT(s, 1.0) << model;
    EXPECT_EQ(tok.decode(ids), text) << model;
  }
}

}  // namespace
}  // namespace steer
