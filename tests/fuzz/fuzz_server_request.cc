// The server's request parser: /v1/chat/completions and /v1/completions bodies (messages,
// prompt as text or token ids, sampling fields, stop, max_tokens, the steering extension naming
// loaded vectors) against the real tiny model. Both of the server's error types are clean
// outcomes (each becomes a 4xx response); nothing else may escape. Each input is parsed as a
// chat body and as a completion body.
#include <ATen/ATen.h>

#include <filesystem>

#include "fuzz_paths.h"
#include "fuzz_target.h"
#include "serve/openai.h"
#include "steer/directions.h"
#include "steer/error.h"
#include "steer/model.h"

namespace {

struct Fixture {
  std::shared_ptr<steer::Model> model;
  std::unique_ptr<steer::serve::VectorRegistry> vectors;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture out;
    const std::string dir = steer::fuzz::input_dir() + "/server";
    std::filesystem::create_directories(dir + "/vectors");
    const std::string tmpl = dir + "/template.json";
    {
      const std::string t = R"({"user_prefix": "Question: ", "user_suffix": "\n", "generation_prompt": "Answer:"})";
      steer::fuzz::write_input(reinterpret_cast<const uint8_t*>(t.data()), t.size(), "server/template.json");
    }
    steer::LoadOptions o;
    o.dtype = steer::DType::kFloat32;
    o.progress = false;
    o.chat_template_file = tmpl;
    out.model = steer::Model::load(steer::fuzz::tiny_model_path(), o);
    const auto& config = out.model->config();
    steer::DirectionMeta meta;
    meta.d_model = config.d_model;
    meta.n_layers = config.n_layers;
    at::manual_seed(3);
    steer::save_directions(steer::DirectionSet(meta, {{1, at::randn({config.d_model})}, {2, at::randn({config.d_model})}}),
                           dir + "/vectors/push.safetensors");
    out.vectors = std::make_unique<steer::serve::VectorRegistry>(config, dir + "/vectors");
    out.vectors->load_folder();
    return out;
  }();
  return f;
}

}  // namespace

STEER_FUZZ_TARGET(server_request) {
  const Fixture& f = fixture();
  const std::string body(reinterpret_cast<const char*>(data), size);
  steer::serve::RequestLimits limits;
  limits.max_tokens = 64;
  for (bool chat : {true, false}) {
    try {
      (void)steer::serve::parse_completion_request(body, chat, *f.model, *f.vectors, limits);
    } catch (const steer::serve::RequestError&) {
    } catch (const steer::Error&) {
    }
  }
}
