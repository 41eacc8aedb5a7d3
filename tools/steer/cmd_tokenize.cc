// steer tokenize: text → token ids with a model's tokenizer, no weights loaded (works on
// vocab-only GGUF files). The text is taken verbatim; BOS only with --bos.
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "steer/json_text.h"
#include "steer/error.h"
#include "steer/model_cache.h"
#include "steer/chat_template.h"
#include "steer/gguf.h"
#include "steer/tokenizer.h"

namespace steer::cli {

std::function<int()> setup_tokenize(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string model, text;
    bool chat = false, json = false, bos = false, no_special = false;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "Model or vocab-only GGUF, HF directory or default model name")->required();
  sub.add_option("--text", o->text, "The text (verbatim)")->required();
  sub.add_flag("--chat", o->chat, "Wrap the text as a user message in the model's chat template");
  sub.add_flag("--bos", o->bos, "Prepend BOS (raw text only)");
  sub.add_flag("--no-special", o->no_special, "Treat special-token text as plain text");
  sub.add_flag("--json", o->json, "Print {\"ids\": [...], \"pieces\": [...]}");
  return [o]() {
    std::string path = resolve_model_path(o->model);
    std::unique_ptr<Tokenizer> tok;
    std::string tmpl;
    if (std::filesystem::is_directory(path)) {
      tok = std::make_unique<Tokenizer>(Tokenizer::from_hf_dir(path));
    } else {
      auto file = GGUFFile::open(path);
      tok = std::make_unique<Tokenizer>(Tokenizer::from_gguf(*file));
      tmpl = file->get_string("tokenizer.chat_template", "");
    }
    std::vector<int32_t> ids;
    int post_len = 0;
    if (o->chat) {
      ChatTemplate ct = ChatTemplate::detect(tmpl, *tok);
      ids = encode_chat(*tok, ct.render({{"user", o->text}}), &post_len);
    } else {
      ids = tok->encode(o->text, o->bos, !o->no_special);
    }
    if (o->json) {
      nlohmann::json pieces = nlohmann::json::array();
      for (int32_t id : ids) {
        std::string p = tok->token_to_piece(id);
        // Pieces can be partial UTF-8 (byte tokens); show those bytes as <0xNN> rather than U+FFFD.
        if (is_valid_utf8(p)) {
          pieces.push_back(p);
        } else {
          std::string hex;
          for (unsigned char ch : p) hex += "<0x" + std::string(1, "0123456789ABCDEF"[ch >> 4]) + "0123456789ABCDEF"[ch & 15] + ">";
          pieces.push_back(hex);
        }
      }
      nlohmann::json j = {{"ids", ids}, {"pieces", pieces}};
      if (o->chat) j["post_instruction_tokens"] = post_len;
      std::cout << json_text(j) << "\n";
      return 0;
    }
    for (int32_t id : ids) std::cout << id << " ";
    std::cout << "\n";
    for (int32_t id : ids) std::cout << "[" << tok->token_to_piece(id) << "]";
    std::cout << "\n" << ids.size() << " tokens\n";
    return 0;
  };
}

}  // namespace steer::cli
