// Where the tests find their data. Model tests need the default models, which
// scripts/setup.sh downloads into the cache; a missing model is a test failure with a hint,
// never a silent skip.
#pragma once
#include <string>

namespace steer::test {

std::string source_dir();   // the repository root
std::string test_data();    // tests/data
std::string shared_data();  // ../shared/data (the public datasets beside the checkout)
std::string tiny_model();   // ../shared/data/tiny-models/stories260K.gguf

// Path of a default model in the cache ("smollm2", "gemma3", "qwen2.5-coder");
// fails the calling test (ADD_FAILURE + returns "") when it is not there.
std::string default_model(const std::string& key);

}  // namespace steer::test
