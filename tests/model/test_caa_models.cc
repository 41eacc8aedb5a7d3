// CAA's tokenization on the default chat models: where the answer letter is read, and which
// tokens A/B scoring compares. The expected ids were read independently with Hugging Face
// tokenizers (bench/peer_caa_sweep.py, transformers 5.24 loading the same GGUF): SmolLM2 keeps
// "(" and the letter apart ("A" = 49, "B" = 50); Qwen2 merges them ("(A" = 4346, "(B" = 5349).
#include <gtest/gtest.h>

#include "steer/ab_eval.h"
#include "steer/extract.h"
#include "steer/model.h"
#include "steer/tokenizer.h"
#include "test_paths.h"

namespace steer {
namespace {

std::shared_ptr<Model> load(const std::string& key) {
  std::string path = test::default_model(key);
  if (path.empty()) return nullptr;
  LoadOptions o;
  o.progress = false;
  return Model::load(path, o);
}

const char* kQuestion = "Is it raining?\n\nChoices:\n(A) Yes\n(B) No";

TEST(CaaModels, LetterTokensAndAnswerPositionPerTokenizer) {
  struct Case {
    const char* key;
    bool paren_in_prompt;
    int32_t a, b;
  };
  for (const Case& c : {Case{"smollm2-135m", true, 49, 50}, Case{"qwen2.5-coder-0.5b", false, 4346, 5349}}) {
    std::shared_ptr<Model> m = load(c.key);
    ASSERT_TRUE(m) << c.key;
    ChoiceQuestion q = encode_choice_question(*m, kQuestion, {'A', 'B'});
    EXPECT_EQ(q.paren_in_prompt, c.paren_in_prompt) << c.key;
    EXPECT_EQ(q.letter_ids, std::vector<int32_t>({c.a, c.b})) << c.key;
    // The prompt and a letter token together are the tokenization of the answer's start.
    for (size_t k = 0; k < 2; ++k) {
      std::vector<int32_t> ids = q.prompt.ids;
      ids.push_back(q.letter_ids[k]);
      std::string text = m->tokenizer().decode(ids);
      EXPECT_EQ(text.substr(text.size() - 2), std::string("(") + q.letters[k]) << c.key;
    }
    // The vectors' read position: the token of the full answer "(A)" that holds the letter.
    for (const char* answer : {"(A)", "(B)"}) {
      EncodedPrompt p = encode_ab_prompt(*m, kQuestion, answer);
      const int64_t off = answer_letter_offset(*m, p, answer[1]);
      const std::string piece = m->tokenizer().decode({p.ids[p.ids.size() + size_t(off)]});
      EXPECT_NE(piece.find(answer[1]), std::string::npos) << c.key << " offset " << off;
      EXPECT_EQ(off, -2) << c.key << ": ')' is its own token after the letter in both tokenizers";
    }
  }
}

}  // namespace
}  // namespace steer
