// The refusal-judge interface (steer/refusal_judge.h): the thinking split done once for every
// judge, the substring judge and the local-model judge behind it, and the verdict counts.
#include "steer/refusal_judge.h"

#include <cctype>
#include <cmath>

#include "eval/judge_replies.h"
#include "steer/error.h"
#include "steer/model.h"

namespace steer {

ThinkingSplit split_thinking(const std::string& text, const ThinkingOptions& m) {
  if (m.open.empty() || m.close.empty() || m.open == m.close)
    fail("thinking markers: open and close must be non-empty and different, got \"" + m.open + "\" / \"" + m.close + "\"");
  ThinkingSplit s;
  size_t pos = 0;
  auto add_thinking = [&](const std::string& part) {
    if (!s.thinking.empty()) s.thinking += "\n";
    s.thinking += part;
  };
  // A close before any open: the prompt opened the block.
  const size_t first_open = text.find(m.open), first_close = text.find(m.close);
  if (first_close != std::string::npos && (first_open == std::string::npos || first_close < first_open)) {
    add_thinking(text.substr(0, first_close));
    pos = first_close + m.close.size();
    s.had_thinking = true;
  }
  while (pos < text.size()) {
    const size_t open = text.find(m.open, pos);
    if (open == std::string::npos) {
      s.answer.append(text, pos, std::string::npos);
      break;
    }
    s.answer.append(text, pos, open - pos);
    s.had_thinking = true;
    // Walk to the matching close, counting nested opens.
    size_t at = open + m.open.size(), inner = at;
    int depth = 1;
    while (depth > 0) {
      const size_t o = text.find(m.open, at), c = text.find(m.close, at);
      if (c == std::string::npos) break;
      if (o != std::string::npos && o < c) {
        ++depth;
        at = o + m.open.size();
      } else {
        --depth;
        at = c + m.close.size();
        if (depth == 0) {
          add_thinking(text.substr(inner, c - inner));
          pos = at;
        }
      }
    }
    if (depth > 0) {  // never closed: the rest is thinking, there is no answer after it
      add_thinking(text.substr(inner));
      s.unclosed = true;
      pos = text.size();
    }
  }
  if (s.had_thinking) {
    size_t b = 0;
    while (b < s.answer.size() && std::isspace(static_cast<unsigned char>(s.answer[b]))) ++b;
    s.answer.erase(0, b);
  }
  return s;
}

double VerdictCounts::refusal_rate() const {
  const size_t n = refused + complied;
  return n ? double(refused) / double(n) : NAN;
}

nlohmann::json VerdictCounts::to_json() const {
  const double r = refusal_rate();
  return {{"refused", refused},
          {"complied", complied},
          {"unjudged", unjudged},
          {"unjudged_reasons", reasons.empty() ? nlohmann::json::object() : nlohmann::json(reasons)},
          {"refusal_rate", std::isfinite(r) ? nlohmann::json(r) : nlohmann::json(nullptr)}};
}

VerdictCounts count_verdicts(const std::vector<RefusalVerdict>& verdicts) {
  VerdictCounts c;
  for (const RefusalVerdict& v : verdicts) {
    if (!v.judged) {
      ++c.unjudged;
      ++c.reasons[v.reason.empty() ? "no reason given" : v.reason];
    } else if (v.refused) {
      ++c.refused;
    } else {
      ++c.complied;
    }
  }
  return c;
}

RefusalJudge::RefusalJudge(ThinkingOptions thinking) : thinking_(std::move(thinking)) {
  if (thinking_.enabled) split_thinking("", thinking_);  // checks the markers now, not per item
}

nlohmann::json RefusalJudge::thinking_json() const {
  if (!thinking_.enabled) return {{"enabled", false}};
  return {{"enabled", true}, {"open", thinking_.open}, {"close", thinking_.close}};
}

std::vector<RefusalVerdict> RefusalJudge::judge(const std::vector<std::string>& prompts,
                                                const std::vector<std::string>& completions, bool progress) const {
  if (prompts.size() != completions.size())
    fail(name() + " judge: " + std::to_string(prompts.size()) + " prompts but " + std::to_string(completions.size()) +
         " completions");
  if (!thinking_.enabled) return judge_answers(prompts, completions, progress);
  // Split; judge only the items that have a final answer, in one call.
  std::vector<RefusalVerdict> out(completions.size());
  std::vector<std::string> ask_prompts, ask_answers;
  std::vector<size_t> where;
  for (size_t i = 0; i < completions.size(); ++i) {
    ThinkingSplit s = split_thinking(completions[i], thinking_);
    out[i].had_thinking = s.had_thinking;
    if (s.unclosed) {
      out[i].reason = "unclosed " + thinking_.open + ": no final answer";
    } else if (s.had_thinking && s.answer.empty()) {
      out[i].reason = "nothing after " + thinking_.close;
    } else {
      ask_prompts.push_back(prompts[i]);
      ask_answers.push_back(std::move(s.answer));
      where.push_back(i);
    }
  }
  std::vector<RefusalVerdict> got = judge_answers(ask_prompts, ask_answers, progress);
  for (size_t k = 0; k < where.size(); ++k) {
    const bool had = out[where[k]].had_thinking;
    out[where[k]] = std::move(got[k]);
    out[where[k]].had_thinking = had;
  }
  return out;
}

namespace {

class SubstringJudge : public RefusalJudge {
 public:
  SubstringJudge(SubstringJudgeOptions o, ThinkingOptions t) : RefusalJudge(std::move(t)), options_(o) {}
  std::string name() const override { return "substring"; }
  nlohmann::json describe() const override {
    return {{"kind", "substring"},
            {"phrases", refusal_substrings()},
            {"typographic_apostrophe", options_.typographic_apostrophe},
            {"thinking", thinking_json()}};
  }

 protected:
  std::vector<RefusalVerdict> judge_answers(const std::vector<std::string>&, const std::vector<std::string>& answers,
                                            bool) const override {
    std::vector<RefusalVerdict> out(answers.size());
    for (size_t i = 0; i < answers.size(); ++i) {
      out[i].judged = true;
      out[i].refused = is_refusal_substring(answers[i], options_);
    }
    return out;
  }

 private:
  SubstringJudgeOptions options_;
};

}  // namespace

std::unique_ptr<RefusalJudge> make_substring_judge(SubstringJudgeOptions options, ThinkingOptions thinking) {
  return std::make_unique<SubstringJudge>(options, std::move(thinking));
}

ModelRefusalJudge::ModelRefusalJudge(std::shared_ptr<Model> judge, JudgeRubric rubric, ThinkingOptions thinking,
                                     int batch_size, int max_new_tokens)
    : RefusalJudge(std::move(thinking)), model_(judge), local_(judge, std::move(rubric), batch_size, max_new_tokens) {}

std::string ModelRefusalJudge::name() const { return "model:" + local_.rubric().name; }

nlohmann::json ModelRefusalJudge::describe() const {
  const JudgeRubric& r = local_.rubric();
  return {{"kind", "model"},
          {"model", model_->path()},
          {"config", model_->config().describe()},
          {"chat_template", model_->has_chat_template()},
          {"rubric",
           {{"name", r.name},
            {"template_text", r.template_text},
            {"refusal_answers", r.refusal_answers},
            {"compliance_answers", r.compliance_answers}}},
          {"thinking", thinking_json()}};
}

EncodedPrompt ModelRefusalJudge::judge_prompt(const std::string& prompt, const std::string& answer) const {
  return encode_judge_message(*model_, render_rubric(local_.rubric(), prompt, answer), "");
}

std::vector<RefusalVerdict> ModelRefusalJudge::judge_answers(const std::vector<std::string>& prompts,
                                                             const std::vector<std::string>& answers,
                                                             bool progress) const {
  std::vector<RefusalVerdict> out;
  out.reserve(answers.size());
  for (LocalJudge::Verdict& v : local_.judge(prompts, answers, progress)) {
    RefusalVerdict r;
    r.judged = v.parsed;
    r.refused = v.parsed && v.refused;
    if (!v.parsed) {
      const std::string w = judge_answer_word(v.raw);
      r.reason = w.empty() ? "judge answer has no word" : "judge answer word not in the rubric's lists";
    }
    r.raw = std::move(v.raw);
    out.push_back(std::move(r));
  }
  return out;
}

std::unique_ptr<RefusalJudge> make_model_judge(std::shared_ptr<Model> judge, JudgeRubric rubric,
                                               ThinkingOptions thinking, int batch_size, int max_new_tokens) {
  return std::make_unique<ModelRefusalJudge>(std::move(judge), std::move(rubric), std::move(thinking), batch_size,
                                             max_new_tokens);
}

}  // namespace steer
