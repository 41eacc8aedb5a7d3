// A judge model's greedy replies to user messages: how LocalJudge (steer/judges.h) and ScoreJudge
// (steer/score_judge.h) ask their questions. Internal.
#pragma once
#include <string>
#include <vector>

namespace steer {

class Model;
struct EncodedPrompt;

// One judge message as the judge model reads it: through its chat template after `system` (when
// not empty), or as raw text (system, a blank line, the message) when it has no template.
EncodedPrompt encode_judge_message(const Model& judge, const std::string& user_message, const std::string& system);

// Each message as encode_judge_message encodes it; greedy, batched, with one
// progress bar labelled `label` (none when empty). One reply per message, in order.
std::vector<std::string> judge_replies(const Model& judge, const std::vector<std::string>& user_messages,
                                       const std::string& system, int batch_size, int max_new_tokens,
                                       const std::string& label);

}  // namespace steer
