// A judge model's greedy replies to user messages: how LocalJudge (steer/judges.h) and ScoreJudge
// (steer/score_judge.h) ask their questions. Internal.
#pragma once
#include <string>
#include <vector>

namespace steer {

class Model;

// Each message through the judge's chat template after `system` (when not empty), or as raw text
// (system, a blank line, the message) when the judge has no template; greedy, batched, with one
// progress bar labelled `label` (none when empty). One reply per message, in order.
std::vector<std::string> judge_replies(const Model& judge, const std::vector<std::string>& user_messages,
                                       const std::string& system, int batch_size, int max_new_tokens,
                                       const std::string& label);

}  // namespace steer
