// Hostile or corrupt model configs (issue 16, classes 1 and 2): every field of config.json and of
// the GGUF metadata is checked before it is used, so a zero, a huge number or a wrong JSON type
// is a steer::Error naming the file and the field: never a floating-point exception, a
// multi-gigabyte allocation or the JSON library's own message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "steer/config.h"
#include "steer/gguf.h"
#include "steer/gguf_writer.h"
#include "steer/model.h"
#include "test_errors.h"
#include "test_paths.h"
#include "unit/base/io_test_util.h"

namespace steer {
namespace {

nlohmann::json stories_config() {
  std::ifstream in(test::test_data() + "/hf/stories260K/config.json");
  return nlohmann::json::parse(in);
}

// The error config_from_hf gives for stories260K's config.json with `field` set to `value`.
std::string hf_error(const std::string& field, const nlohmann::json& value) {
  nlohmann::json j = stories_config();
  j[field] = value;
  try {
    config_from_hf(j, "dir/config.json");
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not a steer::Error: ") + e.what();
  }
  return "";
}

TEST(ConfigValidation, StoriesConfigIsValid) { EXPECT_NO_THROW(config_from_hf(stories_config(), "config.json")); }

TEST(ConfigValidation, ZeroOrNegativeSizesNameTheField) {
  // num_attention_heads = 0 was a SIGFPE (hidden_size / num_attention_heads).
  for (const char* field : {"num_attention_heads", "num_hidden_layers", "hidden_size", "intermediate_size",
                            "vocab_size", "num_key_value_heads", "head_dim", "max_position_embeddings"}) {
    for (int v : {0, -4}) {
      std::string e = hf_error(field, v);
      EXPECT_NE(e.find("dir/config.json"), std::string::npos) << field << ": " << e;
      EXPECT_NE(e.find(field), std::string::npos) << field << ": " << e;
    }
  }
  nlohmann::json j = stories_config();
  j.erase("head_dim");
  j["num_attention_heads"] = 0;
  EXPECT_NE(test::error_of([&] { config_from_hf(j, "c.json"); }).find("num_attention_heads"), std::string::npos);
}

TEST(ConfigValidation, HugeNumbersAreRefusedBeforeTheyAllocate) {
  EXPECT_NE(hf_error("num_hidden_layers", 2000000000).find("num_hidden_layers"), std::string::npos);
  EXPECT_NE(hf_error("num_hidden_layers", int64_t(1) << 40).find("num_hidden_layers"), std::string::npos);
  EXPECT_NE(hf_error("vocab_size", int64_t(1) << 33).find("vocab_size"), std::string::npos);
  EXPECT_NE(hf_error("hidden_size", 1 << 30).find("hidden_size"), std::string::npos);
  EXPECT_NE(hf_error("num_key_value_heads", 16).find("num_key_value_heads"), std::string::npos);  // > heads
}

TEST(ConfigValidation, WrongJsonTypesNameTheFieldNotTheJsonLibrary) {
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"num_attention_heads", "8"},       {"num_hidden_layers", 5.5},      {"hidden_size", true},
      {"num_key_value_heads", "four"},    {"rms_norm_eps", "small"},       {"tie_word_embeddings", "no"},
      {"attention_bias", 1},              {"model_type", 7},               {"rope_parameters", "fast"},
      {"rope_scaling", nlohmann::json::array({1, 2})}, {"max_position_embeddings", "2k"}, {"text_config", 3}};
  for (const auto& [field, value] : cases) {
    std::string e = hf_error(field, value);
    EXPECT_NE(e.find(field), std::string::npos) << field << ": " << e;
    EXPECT_EQ(e.find("json.exception"), std::string::npos) << field << ": " << e;
    EXPECT_EQ(e.find("not a steer::Error"), std::string::npos) << field << ": " << e;
  }
  EXPECT_NE(test::error_of([] { config_from_hf(nlohmann::json::array(), "c.json"); }).find("c.json"),
            std::string::npos);
}

TEST(ConfigValidation, BadFloatsAndRopeFieldsAreRefused) {
  EXPECT_NE(hf_error("rms_norm_eps", -1.0).find("rms_norm_eps"), std::string::npos);
  EXPECT_NE(hf_error("rope_theta", 0.0).find("rope_theta"), std::string::npos);
  EXPECT_NE(hf_error("head_dim", 7).find("head_dim"), std::string::npos);  // rope rotates pairs
  nlohmann::json llama3 = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 4.0}, {"high_freq_factor", 4.0}};
  EXPECT_NE(hf_error("rope_scaling", llama3).find("llama3"), std::string::npos);  // would divide by zero
  llama3["factor"] = 0.0;
  EXPECT_NE(hf_error("rope_scaling", llama3).find("factor"), std::string::npos);
}

TEST(ConfigValidation, LayerTypesMustMatchTheLayerCount) {
  nlohmann::json j = stories_config();
  j["model_type"] = "gemma3_text";
  j["layer_types"] = nlohmann::json::array({"sliding_attention"});
  EXPECT_NE(test::error_of([&] { config_from_hf(j, "c.json"); }).find("layer_types"), std::string::npos);
  j["layer_types"] = nlohmann::json::array({1, 2, 3, 4, 5});
  EXPECT_NE(test::error_of([&] { config_from_hf(j, "c.json"); }).find("layer_types"), std::string::npos);
}

// stories260K.gguf rewritten with one metadata key changed.
std::string gguf_with(const std::string& name, const std::function<void(GGUFWriter&)>& edit) {
  auto src = GGUFFile::open(test::tiny_model());
  GGUFWriter w;
  w.copy_metadata_from(*src);
  w.copy_tensors_from(src);
  edit(w);
  const std::string path = test::scratch_dir() + "/" + name + ".gguf";
  w.write(path);
  return path;
}

std::string gguf_error(const std::string& key, GGUFValue value) {
  const std::string path = gguf_with("key", [&](GGUFWriter& w) { w.set(key, value); });
  return test::error_of([&] { config_from_gguf(*GGUFFile::open(path)); });
}

TEST(ConfigValidation, GGUFMetadataIsCheckedBeforeUse) {
  // Zero heads was a SIGFPE in the head_dim default (embedding_length / head_count).
  auto e = gguf_error("llama.attention.head_count", GGUFValue::u32(0));
  EXPECT_NE(e.find("llama.attention.head_count"), std::string::npos) << e;
  EXPECT_NE(e.find("key.gguf"), std::string::npos) << e;  // the file is named
  e = gguf_error("llama.block_count", GGUFValue::u64(uint64_t(1) << 40));  // was truncated to int
  EXPECT_NE(e.find("llama.block_count"), std::string::npos) << e;
  e = gguf_error("llama.embedding_length", GGUFValue::i32(-64));
  EXPECT_NE(e.find("llama.embedding_length"), std::string::npos) << e;
  e = gguf_error("llama.attention.layer_norm_rms_epsilon", GGUFValue::f32(std::nanf("")));
  EXPECT_NE(e.find("layer_norm_rms_epsilon"), std::string::npos) << e;
  e = gguf_error("llama.context_length", GGUFValue::string("long"));
  EXPECT_NE(e.find("llama.context_length"), std::string::npos) << e;
}

TEST(ConfigValidation, ALayerCountBeyondTheTensorsFailsBeforeAllocating) {
  const std::string path = gguf_with("layers", [](GGUFWriter& w) { w.set_u32("llama.block_count", 1000); });
  LoadOptions o;
  o.progress = false;
  const std::string e = test::error_of([&] { Model::load(path, o); });
  EXPECT_NE(e.find("1000 layers"), std::string::npos) << e;
  EXPECT_NE(e.find("tensors for 5"), std::string::npos) << e;
}

TEST(ConfigValidation, ATokenizerLargerThanTheEmbeddingIsRefused) {
  const std::string path = gguf_with("vocab", [](GGUFWriter& w) {
    std::vector<std::string> tokens = w.find("tokenizer.ggml.tokens")->as_strings();
    for (int i = 0; i < 8; ++i) tokens.push_back("extra" + std::to_string(i));
    w.set_strings("tokenizer.ggml.tokens", tokens);
    if (const GGUFValue* types = w.find("tokenizer.ggml.token_type")) {
      std::vector<int64_t> t = types->as_ints();
      t.resize(tokens.size(), 1);
      w.set("tokenizer.ggml.token_type", GGUFValue::ints(types->element_type(), t));
    }
    if (const GGUFValue* scores = w.find("tokenizer.ggml.scores")) {
      std::vector<double> s = scores->as_floats();
      s.resize(tokens.size(), 0.0);
      w.set("tokenizer.ggml.scores", GGUFValue::floats(scores->element_type(), s));
    }
  });
  LoadOptions o;
  o.progress = false;
  const std::string e = test::error_of([&] { Model::load(path, o); });
  EXPECT_NE(e.find("520 tokens"), std::string::npos) << e;
}

}  // namespace
}  // namespace steer
