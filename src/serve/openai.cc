#include "serve/openai.h"

#include <cmath>
#include <set>

#include "io/read_file.h"
#include "steer/json_text.h"
#include "steer/error.h"
#include "steer/capture.h"
#include "steer/chat_template.h"
#include "steer/tokenizer.h"

namespace steer::serve {

using nlohmann::json;

namespace {

[[noreturn]] void bad(const std::string& param, const std::string& message) { throw RequestError(400, param, message); }

const json* field(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

double number(const json& j, const std::string& param) {
  if (!j.is_number()) bad(param, param + " must be a number");
  double v = j.get<double>();
  if (!std::isfinite(v)) bad(param, param + " must be a finite number");
  return v;
}

int64_t integer(const json& j, const std::string& param) {
  if (!j.is_number_integer() && !j.is_number_unsigned()) bad(param, param + " must be an integer");
  if (j.is_number_unsigned() && j.get<uint64_t>() > uint64_t(INT64_MAX)) bad(param, param + " is too large");
  return j.get<int64_t>();
}

std::string text_of(const json& j, const std::string& param) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_array()) {  // [{"type": "text", "text": "..."}], as newer clients send content
    std::string out;
    for (size_t i = 0; i < j.size(); ++i) {
      const json& part = j[i];
      const std::string p = param + "[" + std::to_string(i) + "]";
      if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
        bad(p, p + " must be {\"type\": \"text\", \"text\": \"...\"}");
      out += part["text"].get<std::string>();
    }
    return out;
  }
  bad(param, param + " must be a string");
}

PositionSelector positions_of(const json& j, const std::string& param) {
  if (!j.is_string()) bad(param, param + " must be a string");
  const std::string s = j.get<std::string>();
  if (s == "all") return PositionSelector::all();
  if (s == "generated") return PositionSelector::generated();
  if (s == "after_instruction" || s == "after-instruction") return PositionSelector::after_instruction();
  if (s == "prompt") return PositionSelector::prompt();
  bad(param, param + " must be \"all\", \"generated\", \"after_instruction\" or \"prompt\", got \"" + s + "\"");
}

std::vector<int> layers_of(const json& j, const std::string& param, int n_layers) {
  std::vector<int> out;
  if (j.is_string()) {
    try {
      return parse_layer_list(j.get<std::string>(), n_layers);
    } catch (const Error& e) {
      bad(param, param + ": " + e.what());
    }
  }
  if (!j.is_array() || j.empty()) bad(param, param + " must be a list of layers or a range like \"8-12\"");
  for (size_t i = 0; i < j.size(); ++i) {
    int64_t l = integer(j[i], param + "[" + std::to_string(i) + "]");
    if (l < 0 || l >= n_layers)
      bad(param, param + ": layer " + std::to_string(l) + " is out of range: the model has " + std::to_string(n_layers) +
                     " layers (0-" + std::to_string(n_layers - 1) + ")");
    out.push_back(int(l));
  }
  return out;
}

DirectionSet vector_named(const json& j, const std::string& param, const VectorRegistry& vectors) {
  if (!j.is_string()) bad(param, param + " must be the name of a loaded vector");
  auto set = vectors.get(j.get<std::string>());
  if (!set) bad(param, "unknown vector \"" + j.get<std::string>() + "\" (GET /v1/steering/vectors lists the loaded ones)");
  return *set;
}

}  // namespace

Steering parse_steering(const json& steering, const Model& model, const VectorRegistry& vectors,
                        const RequestLimits& limits, bool chat, const std::string& where) {
  if (!steering.is_object()) bad(where, where + " must be an object {\"add\": [...], \"ablate\": [...]}");
  for (const auto& [key, value] : steering.items())
    if (key != "add" && key != "ablate") bad(where + "." + key, "unknown steering field \"" + key + "\" (use add, ablate)");
  const int n_layers = model.config().n_layers;
  Steering out;
  if (const json* ablate = field(steering, "ablate")) {
    if (!ablate->is_array()) bad(where + ".ablate", where + ".ablate must be a list of vector names");
    for (size_t i = 0; i < ablate->size(); ++i) {
      const std::string p = where + ".ablate[" + std::to_string(i) + "]";
      const json& item = (*ablate)[i];
      const json& name = item.is_object() && item.contains("vector") ? item["vector"] : item;
      DirectionSet set = vector_named(name, item.is_object() ? p + ".vector" : p, vectors);
      int layer = -1;
      if (item.is_object() && field(item, "layer")) {
        const int64_t l = integer(item["layer"], p + ".layer");
        if (l < 0 || l >= n_layers)
          bad(p + ".layer", p + ".layer " + std::to_string(l) + " is out of range: the model has " +
                                std::to_string(n_layers) + " layers");
        layer = int(l);
      }
      if (layer < 0 && set.vectors().size() != 1)
        bad(p, p + ": the vector holds " + std::to_string(set.vectors().size()) +
                   " layers; say which one to ablate: {\"vector\": NAME, \"layer\": L}");
      try {
        out.ablate(layer < 0 ? set.vectors().begin()->second : set.at_layer(layer));
      } catch (const Error& e) {
        bad(p, p + ": " + e.what());
      }
    }
  }
  if (const json* add = field(steering, "add")) {
    if (!add->is_array()) bad(where + ".add", where + ".add must be a list of {\"vector\", \"coefficient\", ...}");
    for (size_t i = 0; i < add->size(); ++i) {
      const std::string p = where + ".add[" + std::to_string(i) + "]";
      const json& item = (*add)[i];
      if (!item.is_object()) bad(p, p + " must be an object {\"vector\": NAME, \"coefficient\": c, ...}");
      for (const auto& [key, value] : item.items())
        if (key != "vector" && key != "layers" && key != "coefficient" && key != "positions")
          bad(p + "." + key, "unknown field \"" + key + "\" (use vector, layers, coefficient, positions)");
      if (!item.contains("vector")) bad(p + ".vector", p + ".vector is required");
      DirectionSet set = vector_named(item["vector"], p + ".vector", vectors);
      double coef = 1;
      if (const json* c = field(item, "coefficient")) coef = number(*c, p + ".coefficient");
      if (std::abs(coef) > limits.max_coefficient)
        bad(p + ".coefficient", p + ".coefficient " + std::to_string(coef) + " is beyond ±" +
                                    std::to_string(limits.max_coefficient));
      std::vector<int> layers;
      if (const json* l = field(item, "layers")) layers = layers_of(*l, p + ".layers", n_layers);
      PositionSelector pos = chat ? PositionSelector::after_instruction() : PositionSelector::all();
      if (const json* q = field(item, "positions")) pos = positions_of(*q, p + ".positions");
      try {
        out.add(set, float(coef), layers, pos);
      } catch (const Error& e) {
        bad(p, p + ": " + e.what());
      }
    }
  }
  // Everything attach checks (widths, layers), now, so that a bad request never reaches a batch.
  try {
    HookSet probe(n_layers);
    SteeringScope scope = out.attach(probe, model);
  } catch (const Error& e) {
    bad(where, where + ": " + e.what());
  }
  return out;
}

CompletionRequest parse_completion_request(const std::string& body, bool chat, const Model& model,
                                           const VectorRegistry& vectors, const RequestLimits& limits) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    bad("", "the body is not valid JSON: " + json_error_text(e));
  }
  if (!j.is_object()) bad("", "the body must be a JSON object");
  CompletionRequest r;
  r.chat = chat;

  if (chat) {
    const json* messages = field(j, "messages");
    if (!messages || !messages->is_array() || messages->empty())
      bad("messages", "messages must be a non-empty list of {\"role\", \"content\"}");
    std::vector<ChatMessage> turns;
    for (size_t i = 0; i < messages->size(); ++i) {
      const std::string p = "messages[" + std::to_string(i) + "]";
      const json& m = (*messages)[i];
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content"))
        bad(p, p + " must be {\"role\": \"system\" | \"user\" | \"assistant\", \"content\": \"...\"}");
      std::string role = m["role"].get<std::string>();
      if (role == "developer") role = "system";
      if (role != "system" && role != "user" && role != "assistant")
        bad(p + ".role", p + ".role must be system, user or assistant, got \"" + role + "\"");
      turns.push_back({role, text_of(m["content"], p + ".content")});
    }
    if (turns.back().role != "user") bad("messages", "the last message must be the user's");
    if (!model.has_chat_template())
      bad("messages", "the model has no chat template: use /v1/completions with a plain prompt");
    r.prompt = encode_chat_messages(model, turns);
  } else {
    const json* prompt = field(j, "prompt");
    if (!prompt) bad("prompt", "prompt is required");
    std::string text;
    if (prompt->is_string()) text = prompt->get<std::string>();
    else if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) text = (*prompt)[0].get<std::string>();
    else bad("prompt", "prompt must be a string (one prompt per request)");
    r.prompt = encode_raw_prompt(model, text);
    if (r.prompt.ids.empty()) bad("prompt", "the prompt encodes to no tokens");
  }

  if (const json* n = field(j, "n"))
    if (integer(*n, "n") != 1) bad("n", "n must be 1");
  if (const json* s = field(j, "stream")) {
    if (!s->is_boolean()) bad("stream", "stream must be true or false");
    r.stream = s->get<bool>();
  }
  r.max_tokens = limits.default_max_tokens;
  for (const char* key : {"max_tokens", "max_completion_tokens"})
    if (const json* m = field(j, key)) {
      int64_t v = integer(*m, key);
      if (v < 1 || v > limits.max_tokens)
        bad(key, std::string(key) + " must be 1.." + std::to_string(limits.max_tokens) + ", got " + std::to_string(v));
      r.max_tokens = int(v);
    }
  r.sampling.temperature = 1.f;  // OpenAI's default; 0 is greedy
  if (const json* t = field(j, "temperature")) {
    double v = number(*t, "temperature");
    if (v < 0 || v > 2) bad("temperature", "temperature must be in [0, 2], got " + std::to_string(v));
    r.sampling.temperature = float(v);
  }
  if (const json* t = field(j, "top_p")) {
    double v = number(*t, "top_p");
    if (!(v > 0 && v <= 1)) bad("top_p", "top_p must be in (0, 1], got " + std::to_string(v));
    r.sampling.top_p = float(v);
  }
  if (const json* s = field(j, "seed")) {
    const int64_t seed = integer(*s, "seed");
    if (seed < 0) bad("seed", "seed must be ≥ 0, got " + std::to_string(seed));
    r.sampling.seed = uint64_t(seed);
  }
  if (const json* s = field(j, "stop")) {
    if (s->is_string()) r.stop = {s->get<std::string>()};
    else if (s->is_array() && s->size() <= 4) {
      for (size_t i = 0; i < s->size(); ++i) {
        if (!(*s)[i].is_string()) bad("stop", "stop must be a string or a list of up to 4 strings");
        r.stop.push_back((*s)[i].get<std::string>());
      }
    } else {
      bad("stop", "stop must be a string or a list of up to 4 strings");
    }
  }

  const int64_t context = limits.context > 0 ? limits.context : model.config().context_length;
  const int64_t n_prompt = int64_t(r.prompt.ids.size());
  if (context > 0 && n_prompt >= context)
    bad(chat ? "messages" : "prompt", "the prompt has " + std::to_string(n_prompt) + " tokens; the context holds " +
                                          std::to_string(context));
  if (context > 0) r.max_tokens = int(std::min<int64_t>(r.max_tokens, context - n_prompt));

  const json* steering = field(j, "steering");
  std::string where = "steering";
  if (const json* extra = field(j, "extra_body")) {
    if (!extra->is_object()) bad("extra_body", "extra_body must be an object");
    if (const json* s = field(*extra, "steering")) {
      if (steering) bad("extra_body.steering", "steering is given twice (top level and extra_body)");
      steering = s;
      where = "extra_body.steering";
    }
  }
  if (steering) r.steering = parse_steering(*steering, model, vectors, limits, chat, where);
  return r;
}

json error_body(const std::string& message, const std::string& type, const std::string& param) {
  return {{"error", {{"message", message}, {"type", type}, {"param", param.empty() ? json() : json(param)}, {"code", json()}}}};
}

std::string error_type(int status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    case 503: return "server_shutting_down";
    case 504: return "timeout";
    default: return "server_error";
  }
}

namespace {

json usage(const CompletionRequest& req, const JobResult& r) {
  const int64_t p = int64_t(req.prompt.ids.size()), c = int64_t(r.ids.size());
  return {{"prompt_tokens", p}, {"completion_tokens", c}, {"total_tokens", p + c}};
}

}  // namespace

json completion_response(const CompletionRequest& req, const JobResult& result, const std::string& id,
                         const std::string& model_name, int64_t created) {
  json choice = {{"index", 0}, {"finish_reason", result.finish_reason}, {"logprobs", json()}};
  if (req.chat) choice["message"] = {{"role", "assistant"}, {"content", result.text}};
  else choice["text"] = result.text;
  return {{"id", id},
          {"object", req.chat ? "chat.completion" : "text_completion"},
          {"created", created},
          {"model", model_name},
          {"choices", json::array({choice})},
          {"usage", usage(req, result)}};
}

json stream_chunk(const CompletionRequest& req, const std::string& id, const std::string& model_name,
                  int64_t created, const std::string& text, const std::string& finish_reason, const JobResult* result) {
  json choice = {{"index", 0}, {"finish_reason", finish_reason.empty() ? json() : json(finish_reason)}};
  if (req.chat) {
    json delta = json::object();
    if (!text.empty()) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  json out = {{"id", id},
              {"object", req.chat ? "chat.completion.chunk" : "text_completion"},
              {"created", created},
              {"model", model_name},
              {"choices", json::array({choice})}};
  if (result) out["usage"] = usage(req, *result);
  return out;
}

std::string dump_json(const json& j) { return json_text(j); }

}  // namespace steer::serve
