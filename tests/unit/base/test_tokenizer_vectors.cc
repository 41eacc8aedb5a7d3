// Tokenizer vs llama.cpp's own test vectors (tests/test-tokenizer-0 in llama.cpp, mid 2025):
// vocabulary-only GGUF files with 46 input strings each and the ids llama.cpp produced.
//
// Encoding follows test-tokenizer-0: add_special = false (no BOS), parse_special = false.
// The GGUF files in shared/data arrived damaged (invalid UTF-8 bytes replaced by U+FFFD) and
// are repaired from patches in tests/data/tokenizer/vector-patches first (see
// tokenizer_test_util.h and tools/reference/repair_tokenizer_vectors.py).
//
// Left out: bert-bge (WordPiece, not supported), baichuan and gpt-neox (no .inp/.out),
// without-gguf/command-r and without-gguf/llama-bpe (their vocabularies are not here);
// without-gguf/qwen2 runs in tests/model against the Qwen2.5 default model's vocabulary.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "steer/gguf.h"
#include "steer/tokenizer.h"
#include "test_paths.h"
#include "tokenizer_test_util.h"

namespace steer {
namespace {

// Every vocabulary listed must match llama.cpp on every case: these are the tokenizer
// families our default models use (starcoder/refact: SmolLM2's regexes; llama-spm: Gemma's
// SPM algorithm) and the other regex families we claim to support.
const char* const kVocabularies[] = {"gpt-2", "llama-spm", "starcoder", "refact", "falcon",
                                     "deepseek-coder", "deepseek-llm"};

TEST(TokenizerVectors, EveryVocabularyMatchesLlamaCpp) {
  const std::string dir = test::shared_data() + "/tokenizer-vectors";
  std::string table = "\nvocabulary       model/pre               cases  passed     rate\n";
  for (const std::string name : kVocabularies) {
    SCOPED_TRACE(name);
    const std::string fixed = ::testing::TempDir() + "/ggml-vocab-" + name + ".gguf";
    test::repair_vocab_file(dir + "/ggml-vocab-" + name + ".gguf",
                            test::test_data() + "/tokenizer/vector-patches/" + name + ".json", fixed);
    const Tokenizer tok = Tokenizer::from_gguf(*GGUFFile::open(fixed));
    std::remove(fixed.c_str());
    const auto cases = test::read_vector_cases(dir + "/ggml-vocab-" + name + ".gguf.inp",
                                               dir + "/ggml-vocab-" + name + ".gguf.out");
    ASSERT_EQ(cases.size(), 46u);
    int passed = 0;
    for (const auto& c : cases) {
      const auto ids = tok.encode(c.text, /*add_bos=*/false, /*parse_special=*/false);
      if (ids == c.ids) {
        ++passed;
      } else {
        ADD_FAILURE() << name << ": '" << c.text << "'\n  expected " << ::testing::PrintToString(c.ids)
                      << "\n  got      " << ::testing::PrintToString(ids);
      }
    }
    char line[160];
    std::snprintf(line, sizeof(line), "%-16s %-22s %6zu %7d %7.1f%%\n", name.c_str(),
                  (tok.spec().model + "/" + tok.spec().pre).c_str(), cases.size(), passed,
                  100.0 * passed / cases.size());
    table += line;
  }
  table += "not run: bert-bge (WordPiece, unsupported); baichuan, gpt-neox (no vectors); command-r,\n"
           "llama-bpe (no vocabulary file); qwen2 runs in the model tests (Qwen2.5 vocabulary)\n";
  std::printf("%s\n", table.c_str());
}

}  // namespace
}  // namespace steer
