// Multiple-choice ("(A) … (B) …") scoring under steering, as CAA's A/B evaluation does it
// (nrimsky/CAA, get_a_b_probs): the question through the chat template, "(" as the start of the
// model's answer, and the probability of each choice letter at the last position, renormalized
// over the letters the question offers.
//
//   auto q = steer::encode_choice_question(*model, item.question, {'A', 'B'});
//   std::vector<steer::SteerSetting> settings = {{-1, 0}, {13, -1.0}, {13, 1.0}};
//   steer::ChoiceSweep sweep = steer::choice_sweep(*model, {q}, vectors, settings);
//   double p = sweep.p(1, 0, 'A');   // setting 1, question 0, letter A
//
// Steering: setting (L, m) adds m·v[L] to hook_resid_post of block L (the block's output, as CAA
// adds to the decoder layer's output) at every position from the start of the post-instruction
// tail on — the template's tail and the "(" — as CAA's add-after-position does with generated
// tokens included. The question's tokens before that point do not depend on the setting, so
// each question runs them once and every setting continues that prefix's KV cache as one row of
// a batch: a sweep of S settings costs one prompt plus S short tails per question.
//
// Failure: steer::Error for a letter that is not one token after "(", a question whose
// template has no post-instruction tail, a layer the vectors lack or out of range, a vector of
// the wrong width.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "steer/chat_template.h"
#include "steer/directions.h"
#include "steer/runner.h"

namespace steer {

class Model;
class HookSet;

// A question ready to score: the chat prompt up to the answer letter and the letters offered.
struct ChoiceQuestion {
  EncodedPrompt prompt;
  std::vector<char> letters;        // e.g. {'A', 'B'}; the scored probabilities are over these
  std::vector<int32_t> letter_ids;  // the token each letter's answer continues the prompt with
  bool paren_in_prompt = true;      // "(" ends the prompt (else it is part of the letter tokens)
};

// `history` (earlier turns, e.g. few-shot examples as user/assistant pairs; a system message
// first if any) + the user's question + "(" as the start of the assistant's turn. Where the
// tokenizer keeps "(" and the letter apart (Llama, SmolLM2) the prompt ends with "(" and the
// letters are their own tokens, as CAA does; where it merges them ("(A" is one Qwen2 token) the
// prompt stops before "(" and the letters are the merged tokens — the model would never read a
// lone "A" after "(" there, and p(A) + p(B) after a lone "(" is a few percent. Read from the
// tokenization; steer::Error naming the letter when neither holds.
ChoiceQuestion encode_choice_question(const Model& model, const std::string& question, const std::vector<char>& letters,
                                      const std::vector<ChatMessage>& history = {});

// The position of the answer letter in a prompt that ends with an answer such as "(A)": the
// last token whose text holds the letter, counted from the end (−2 when "(", "A", ")" are
// three tokens, −1 when ")" merges away, ...). Read from the tokenization, never assumed.
// steer::Error naming the letter when no token of the answer holds it.
int64_t answer_letter_offset(const Model& model, const EncodedPrompt& prompt_with_answer, char letter);

// One steering setting of a sweep: layer < 0 or multiplier 0 is the unsteered model.
struct SteerSetting {
  int layer = -1;
  double multiplier = 0;
  bool steered() const { return layer >= 0 && multiplier != 0; }
};

struct ChoiceSweepOptions {
  int batch_size = 64;  // settings per forward (rows continuing one question's prefix)
  bool progress = true;
  std::string label = "A/B sweep";  // the progress bar's label
  // Hooks on every pass, prefix included (e.g. an ablation under which the sweep runs); they
  // must treat all rows alike (not per-row).
  const HookSet* base_hooks = nullptr;
};

struct ChoiceSweep {
  std::vector<SteerSetting> settings;
  // probs[s][q][k]: probability of question q's k-th letter in setting s, renormalized over the
  // question's letters (their sum is 1).
  std::vector<std::vector<std::vector<double>>> probs;
  std::vector<std::vector<char>> letters;  // per question
  double seconds = 0;

  // The probability of `letter` (one the question offers) for setting s, question q.
  double p(size_t s, size_t q, char letter) const;
};

// Scores every question under every setting. `vectors` needs every steered setting's layer
// (hook_resid_post vectors as CAA extracts them; other sites are an error).
ChoiceSweep choice_sweep(const Model& model, const std::vector<ChoiceQuestion>& questions, const DirectionSet& vectors,
                         const std::vector<SteerSetting>& settings, const ChoiceSweepOptions& options = {});

}  // namespace steer
