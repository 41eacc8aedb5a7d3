// OpenAI-compatible request and response shapes for the server: /v1/chat/completions and
// /v1/completions bodies parsed into one CompletionRequest (with the project's `steering`
// extension, also accepted under `extra_body` as the OpenAI Python client sends it), and the
// response, streaming chunk and error bodies built from results.
//
// Every malformed input is a RequestError carrying the HTTP status and the field it names
// (OpenAI's error body: {"error": {"message", "type", "param", "code"}}), never a crash.
#pragma once
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "serve/scheduler.h"
#include "serve/vectors.h"
#include "steer/generate.h"
#include "steer/interventions.h"

namespace steer::serve {

struct RequestError : std::runtime_error {
  RequestError(int status, std::string param, const std::string& message)
      : std::runtime_error(message), status(status), param(std::move(param)) {}
  int status;
  std::string param;  // the field, e.g. "steering.add[0].coefficient"; "" for the whole body
};

// What a request may ask for at most.
struct RequestLimits {
  int max_tokens = 2048;          // the most new tokens one request may ask for
  int default_max_tokens = 256;   // when it asks for none
  int64_t context = 0;            // prompt + new tokens at most (0: the model's context length)
  double max_coefficient = 1e3;   // |steering coefficient| at most
};

struct CompletionRequest {
  bool chat = true;
  bool stream = false;
  EncodedPrompt prompt;
  int max_tokens = 256;
  SamplingOptions sampling;
  std::vector<std::string> stop;
  Steering steering;  // empty: unsteered
};

// Parses and checks a request body against the model and the loaded vectors.
CompletionRequest parse_completion_request(const std::string& body, bool chat, const Model& model,
                                           const VectorRegistry& vectors, const RequestLimits& limits);

// The `steering` object alone (for tests and the playground): {"add": [...], "ablate": [...]}.
Steering parse_steering(const nlohmann::json& steering, const Model& model, const VectorRegistry& vectors,
                        const RequestLimits& limits, bool chat, const std::string& where = "steering");

nlohmann::json error_body(const std::string& message, const std::string& type, const std::string& param = "");
std::string error_type(int status);  // "invalid_request_error", "authentication_error", ...

// The whole response of a finished request; `id` like "chatcmpl-12".
nlohmann::json completion_response(const CompletionRequest& req, const JobResult& result, const std::string& id,
                                   const std::string& model_name, int64_t created);
// One server-sent-event chunk of a streaming response: the text piece, or (finish_reason set)
// the last chunk with the finish reason and usage.
nlohmann::json stream_chunk(const CompletionRequest& req, const std::string& id, const std::string& model_name,
                            int64_t created, const std::string& text, const std::string& finish_reason = "",
                            const JobResult* result = nullptr);

// JSON output never throws on text: invalid or incomplete UTF-8 becomes U+FFFD.
std::string dump_json(const nlohmann::json& j);

}  // namespace steer::serve
