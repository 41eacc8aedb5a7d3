// steer inspect: what a model file really is, read from its metadata without loading weights.
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "steer/json_text.h"
#include "steer/error.h"
#include "steer/model_cache.h"
#include "steer/sites.h"
#include "steer/chat_template.h"
#include "steer/gguf.h"
#include "steer/tokenizer.h"

namespace steer::cli {

static void print_sites(int n_layers, bool all) {
  if (all) {
    for (const auto& s : all_site_names(n_layers)) std::cout << "  " << s << "\n";
    return;
  }
  std::cout << "  hook_embed\n";
  for (SiteKind k : {SiteKind::kResidPre, SiteKind::kAttnZ, SiteKind::kAttnPattern, SiteKind::kAttnOut,
                     SiteKind::kResidMid, SiteKind::kMlpOut, SiteKind::kResidPost})
    std::cout << "  blocks.{0.." << n_layers - 1 << "}." << site_kind_name(k) << "\n";
  std::cout << "  ln_final.hook_normalized\n";
}

std::function<int()> setup_inspect(CLI::App& sub, const GlobalOptions& global) {
  struct Opts {
    std::string model;
    bool sites = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "Model: .gguf (also vocab-only), HF directory or default model name")->required();
  sub.add_flag("--sites", o->sites, "List every hook site name");
  sub.add_flag("--json", o->json, "Print JSON");
  return [o]() {
    std::string path = resolve_model_path(o->model);
    nlohmann::json j;
    j["path"] = path;
    if (std::filesystem::is_directory(path)) {
      ModelConfig c = config_from_hf_dir(path);
      j["format"] = "huggingface";
      j["config"] = c.to_json();
      Tokenizer tok = Tokenizer::from_hf_dir(path);
      j["tokenizer"] = {{"vocab_size", tok.vocab_size()}, {"bos", tok.bos_id()}, {"eos", tok.eos_id()}};
    } else {
      auto file = GGUFFile::open(path);
      j["format"] = "gguf v" + std::to_string(file->version());
      j["name"] = file->get_string("general.name", "");
      j["architecture"] = file->get_string("general.architecture", "");
      j["license"] = file->get_string("general.license", "");
      std::map<std::string, int> types;
      int64_t params = 0;
      for (const auto& t : file->tensors()) {
        types[ggml_type_name(t.type)]++;
        params += t.n_elements();
      }
      j["tensors"] = file->tensors().size();
      j["tensor_types"] = types;
      j["parameters"] = params;
      if (!file->tensors().empty()) j["config"] = config_from_gguf(*file).to_json();
      Tokenizer tok = Tokenizer::from_gguf(*file);
      j["tokenizer"] = {{"model", file->get_string("tokenizer.ggml.model", "")},
                        {"pre", file->get_string("tokenizer.ggml.pre", "")},
                        {"vocab_size", tok.vocab_size()},
                        {"bos", tok.bos_id()},
                        {"eos", tok.eos_id()},
                        {"add_bos", tok.add_bos_default()}};
      std::string tmpl = file->get_string("tokenizer.chat_template", "");
      // A base model has no template and no turn markers; inspecting it needs neither.
      try {
        ChatTemplate ct = ChatTemplate::detect(tmpl, tok);
        j["chat_template"] = {{"in_metadata", !tmpl.empty()}, {"kind", ct.name()},
                              {"post_instruction", ct.render({{"user", "X"}}).post_instruction}};
      } catch (const Error& e) {
        if (tmpl.empty()) j["chat_template"] = nullptr;
        else j["chat_template"] = {{"in_metadata", true}, {"kind", "unrecognized"}, {"why", e.what()}};
      }
    }
    if (o->json) {
      std::cout << json_text(j, 2) << "\n";
      return 0;
    }
    std::cout << j["path"].get<std::string>() << " (" << j["format"].get<std::string>() << ")\n";
    for (const char* k : {"name", "architecture", "license", "parameters", "tensors"})
      if (j.contains(k)) std::cout << "  " << k << ": " << json_text(j[k]) << "\n";
    if (j.contains("tensor_types")) std::cout << "  tensor types: " << json_text(j["tensor_types"]) << "\n";
    if (j.contains("config")) std::cout << "  config: " << json_text(j["config"]) << "\n";
    else std::cout << "  no weights (vocab-only file)\n";
    std::cout << "  tokenizer: " << json_text(j["tokenizer"]) << "\n";
    if (j.contains("chat_template"))
      std::cout << "  chat template: " << (j["chat_template"].is_null() ? "none" : json_text(j["chat_template"])) << "\n";
    if (j.contains("config")) {
      std::cout << "hook sites:\n";
      print_sites(j["config"]["n_layers"].get<int>(), o->sites);
    }
    return 0;
  };
}

}  // namespace steer::cli
