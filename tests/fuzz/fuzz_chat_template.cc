// Chat templates: layout detection from arbitrary Jinja text against a real vocabulary, a user
// template file (JSON pieces), rendering a conversation whose contents are fuzzed too, and the
// token ids of the rendering. Input: template text, then "\n====\n", then message contents
// separated by NUL bytes (roles cycle system/user/assistant; an empty role text is skipped).
#include <vector>

#include "fuzz_paths.h"
#include "fuzz_target.h"
#include "steer/chat_template.h"
#include "steer/error.h"
#include "steer/gguf.h"
#include "steer/tokenizer.h"

namespace {

const steer::Tokenizer& vocabulary() {
  static const steer::Tokenizer tok = steer::Tokenizer::from_hf_dir(steer::fuzz::test_data("tokenizer/hf/smollm2-135m"));
  return tok;
}

std::vector<steer::ChatMessage> messages_from(const std::string& text) {
  static const char* roles[] = {"system", "user", "assistant"};
  std::vector<steer::ChatMessage> out;
  size_t start = 0, i = 0;
  while (start <= text.size() && out.size() < 16) {
    size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    out.push_back({roles[i++ % 3], text.substr(start, end - start)});
    start = end + 1;
  }
  return out;
}

void render_all(const steer::ChatTemplate& tmpl, const std::vector<steer::ChatMessage>& messages) {
  for (bool generation_prompt : {true, false}) {
    steer::RenderedChat chat = tmpl.render(messages, generation_prompt);
    int post = 0;
    std::vector<int32_t> ids = steer::encode_chat(vocabulary(), chat, &post);
    if (post < 0 || static_cast<size_t>(post) > ids.size()) __builtin_trap();  // the tail must be inside
  }
}

}  // namespace

STEER_FUZZ_TARGET(chat_template) {
  const auto [template_text, contents] = steer::fuzz::split_input(data, size);
  const auto messages = messages_from(contents);
  try {
    render_all(steer::ChatTemplate::detect(template_text, vocabulary()), messages);
  } catch (const steer::Error&) {
  }
  // The same bytes as a template file (JSON pieces).
  const std::string path = steer::fuzz::write_input(reinterpret_cast<const uint8_t*>(template_text.data()),
                                                    template_text.size(), "template.json");
  render_all(steer::ChatTemplate::from_file(path), messages);
}
