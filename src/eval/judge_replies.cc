#include "eval/judge_replies.h"

#include <memory>

#include "steer/generate.h"
#include "steer/model.h"
#include "steer/progress.h"

namespace steer {

EncodedPrompt encode_judge_message(const Model& judge, const std::string& user, const std::string& system) {
  return judge.has_chat_template() ? encode_chat_prompt(judge, user, system)
                                   : encode_raw_prompt(judge, system.empty() ? user : system + "\n\n" + user);
}

std::vector<std::string> judge_replies(const Model& judge, const std::vector<std::string>& user_messages,
                                       const std::string& system, int batch_size, int max_new_tokens,
                                       const std::string& label) {
  std::vector<std::string> out;
  if (user_messages.empty()) return out;
  std::vector<EncodedPrompt> prompts;
  for (const std::string& user : user_messages) prompts.push_back(encode_judge_message(judge, user, system));
  GenerateOptions go;  // greedy by default
  go.max_new_tokens = max_new_tokens;
  go.batch_size = batch_size;
  std::unique_ptr<Progress> bar;
  if (!label.empty()) bar = std::make_unique<Progress>(label, int64_t(prompts.size()), "items");
  if (bar) go.on_finished = [&bar](int64_t) { bar->advance(1); };
  for (Generation& g : generate(judge, prompts, go)) out.push_back(std::move(g.text));
  if (bar) bar->finish();
  return out;
}

}  // namespace steer
