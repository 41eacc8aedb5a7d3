// The HTTP server (steer/server.h) started for real on a free loopback port and talked to over
// HTTP, on the tiny model with a small chat template: OpenAI response shapes, streaming, steered
// responses equal to the library's own output with the same steering, concurrent requests with
// different steering each getting what they get alone, every malformed input answered with a
// 400 naming the field, authentication, vector management, a client that disconnects mid-stream.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "serve/scheduler.h"
#include "serve/vectors.h"
#include "steer/directions.h"
#include "steer/generate.h"
#include "steer/interventions.h"
#include "steer/server.h"
#include "tiny_models.h"

namespace steer {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A vector folder with two vectors for the tiny model: "push" (layers 1-3) and "calm" (layer 2).
std::string vector_folder(const Model& m) {
  static std::string dir = [&] {
    fs::path d = fs::temp_directory_path() / ("steer-server-test-" + std::to_string(::getpid()));
    fs::create_directories(d);
    const int64_t dm = m.config().d_model;
    at::manual_seed(11);
    DirectionMeta meta;
    meta.d_model = int(dm);
    meta.n_layers = m.config().n_layers;
    meta.site = SiteKind::kResidPost;
    save_directions(DirectionSet(meta, {{1, at::randn({dm})}, {2, at::randn({dm})}, {3, at::randn({dm})}}),
                    (d / "push.safetensors").string());
    save_directions(DirectionSet(meta, {{2, at::randn({dm})}}), (d / "calm.gguf").string());
    std::ofstream(d / "notes.txt") << "not a vector";
    return d.string();
  }();
  return dir;
}

// Vectors made for another architecture are loaded (the user may mean it) with a warning; files
// that do not fit the model are skipped with one (issue 16, class 6).
TEST(VectorRegistry, WarnsAboutVectorsMadeForAnotherModel) {
  fs::path d = fs::temp_directory_path() / ("steer-registry-test-" + std::to_string(::getpid()));
  fs::create_directories(d);
  ModelConfig c;
  c.arch = "llama";
  c.name = "tiny";
  c.n_layers = 4;
  c.d_model = 8;
  DirectionMeta meta;
  meta.d_model = 8;
  meta.site = SiteKind::kResidPost;
  save_directions(DirectionSet(meta, {{1, at::ones({8})}}), (d / "mine.safetensors").string());
  meta.model = meta.model_arch = "qwen2";
  save_directions(DirectionSet(meta, {{1, at::ones({8})}}), (d / "qwen.gguf").string());
  meta.d_model = 4;
  save_directions(DirectionSet(meta, {{1, at::ones({4})}}), (d / "narrow.safetensors").string());
  serve::VectorRegistry reg(c, d.string());
  std::vector<std::string> w = reg.load_folder();
  ASSERT_EQ(w.size(), 2u) << ::testing::PrintToString(w);
  EXPECT_EQ(w[0].rfind("skipped ", 0), 0u) << w[0];  // narrow: another width
  EXPECT_NE(w[1].find("qwen.gguf: made for qwen2, this model is tiny (llama); loaded anyway"), std::string::npos) << w[1];
  EXPECT_TRUE(reg.get("mine") && reg.get("qwen") && !reg.get("narrow"));
  fs::remove_all(d);
}

struct Running {
  std::shared_ptr<Model> model;
  std::unique_ptr<Server> server;
  std::unique_ptr<httplib::Client> client;
  int port = 0;
};

Running start(ServerOptions o = {}) {
  Running r;
  r.model = test::tiny_chat();
  o.port = 0;
  o.quiet = true;
  o.max_batch = o.max_batch == 16 ? 4 : o.max_batch;
  if (o.vectors_dir.empty()) o.vectors_dir = vector_folder(*r.model);
  r.server = std::make_unique<Server>(r.model, o);
  r.port = r.server->start();
  r.client = std::make_unique<httplib::Client>("127.0.0.1", r.port);
  r.client->set_read_timeout(60, 0);
  return r;
}

json post(httplib::Client& c, const std::string& path, const json& body, int* status = nullptr) {
  auto res = c.Post(path.c_str(), body.dump(), "application/json");
  EXPECT_TRUE(res) << "no response from " << path;
  if (!res) return {};
  if (status) *status = res->status;
  return json::parse(res->body);
}

json chat(const std::string& text, int max_tokens, json steering = nullptr) {
  json body = {{"messages", {{{"role", "user"}, {"content", text}}}}, {"max_tokens", max_tokens}, {"temperature", 0}};
  if (!steering.is_null()) body["steering"] = steering;
  return body;
}

// What the library generates for the same request: greedy, one prompt alone.
std::string library_text(const Model& m, const std::string& text, int max_tokens, const Steering& s = {}) {
  GenerateOptions o;
  o.max_new_tokens = max_tokens;
  HookSet hooks(m.config().n_layers);
  SteeringScope scope = s.attach(hooks, m);
  return generate(m, {encode_chat_messages(m, {{"user", text}})}, o, &hooks)[0].text;
}

const char* kPrompt = "Tell me a story about a cat";

TEST(Server, ChatCompletionHasOpenAIShapeAndEqualsTheLibrary) {
  Running r = start();
  int status = 0;
  json out = post(*r.client, "/v1/chat/completions", chat(kPrompt, 24), &status);
  ASSERT_EQ(status, 200) << out.dump();
  EXPECT_EQ(out["object"], "chat.completion");
  EXPECT_EQ(out["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(out["choices"][0]["message"]["content"], library_text(*r.model, kPrompt, 24));
  EXPECT_GT(out["usage"]["prompt_tokens"].get<int>(), 3);
  EXPECT_EQ(out["usage"]["total_tokens"].get<int>(),
            out["usage"]["prompt_tokens"].get<int>() + out["usage"]["completion_tokens"].get<int>());
  EXPECT_TRUE(out["choices"][0]["finish_reason"] == "length" || out["choices"][0]["finish_reason"] == "stop");

  json models = json::parse(r.client->Get("/v1/models")->body);
  EXPECT_EQ(models["data"][0]["object"], "model");
  json health = json::parse(r.client->Get("/health")->body);
  EXPECT_EQ(health["status"], "ok");

  json raw = post(*r.client, "/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 8}, {"temperature", 0}}, &status);
  ASSERT_EQ(status, 200) << raw.dump();
  EXPECT_EQ(raw["object"], "text_completion");
  GenerateOptions o;
  o.max_new_tokens = 8;
  EXPECT_EQ(raw["choices"][0]["text"], generate(*r.model, {encode_raw_prompt(*r.model, "Once upon a time")}, o)[0].text);
  r.server->stop(5);
}

TEST(Server, StreamingSendsTheSameTextAsEventsEndingWithDone) {
  Running r = start();
  json body = chat(kPrompt, 20);
  const std::string whole = post(*r.client, "/v1/chat/completions", body)["choices"][0]["message"]["content"];
  body["stream"] = true;
  auto res = r.client->Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  std::string text, finish;
  bool done = false;
  std::istringstream events(res->body);
  std::string line;
  while (std::getline(events, line)) {
    if (line.rfind("data: ", 0) != 0) continue;
    std::string data = line.substr(6);
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    json chunk = json::parse(data);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    const json& c = chunk["choices"][0];
    if (c["delta"].contains("content")) text += c["delta"]["content"].get<std::string>();
    if (!c["finish_reason"].is_null()) {
      finish = c["finish_reason"];
      EXPECT_TRUE(chunk.contains("usage"));
    }
  }
  EXPECT_TRUE(done) << "no data: [DONE]";
  EXPECT_FALSE(finish.empty());
  EXPECT_EQ(text, whole);
  r.server->stop(5);
}

TEST(Server, SteeredResponsesEqualTheLibraryAndConcurrentRequestsKeepTheirOwn) {
  Running r = start();
  const Model& m = *r.model;
  DirectionSet push = load_directions(vector_folder(m) + "/push.safetensors");
  DirectionSet calm = load_directions(vector_folder(m) + "/calm.gguf");
  struct Case {
    json steering;
    Steering library;
  };
  std::vector<Case> cases;
  cases.push_back({nullptr, Steering()});
  for (float c : {-6.f, 6.f}) {
    Steering s;
    s.add(push, c, {1, 2, 3}, PositionSelector::after_instruction());
    json add = {{"vector", "push"}, {"coefficient", c}, {"layers", "1-3"}};
    cases.push_back({json{{"add", json::array({add})}}, s});
  }
  {
    Steering s;
    s.add(push, 4.f, {2}, PositionSelector::generated());
    json add = {{"vector", "push"}, {"coefficient", 4}, {"layers", json::array({2})}, {"positions", "generated"}};
    cases.push_back({json{{"add", json::array({add})}}, s});
  }
  {
    Steering s;
    s.ablate(calm.at_layer(2));
    cases.push_back({json{{"ablate", json::array({"calm"})}}, s});
  }
  std::vector<std::string> want;
  for (const Case& c : cases) want.push_back(library_text(m, kPrompt, 16, c.library));
  EXPECT_NE(want[1], want[0]) << "the steering changes nothing: the test would not see cross-talk";
  EXPECT_NE(want[2], want[1]);

  // Each alone, then all at once (and twice over, so rows join and leave a running batch).
  for (size_t i = 0; i < cases.size(); ++i)
    EXPECT_EQ(post(*r.client, "/v1/chat/completions", chat(kPrompt, 16, cases[i].steering))["choices"][0]["message"]["content"],
              want[i])
        << "case " << i << " alone";
  std::vector<std::future<std::string>> answers;
  for (int round = 0; round < 2; ++round)
    for (size_t i = 0; i < cases.size(); ++i)
      answers.push_back(std::async(std::launch::async, [&, i] {
        httplib::Client c("127.0.0.1", r.port);
        c.set_read_timeout(60, 0);
        auto res = c.Post("/v1/chat/completions", chat(kPrompt, 16, cases[i].steering).dump(), "application/json");
        return res && res->status == 200 ? json::parse(res->body)["choices"][0]["message"]["content"].get<std::string>()
                                         : std::string("<failed>");
      }));
  for (size_t k = 0; k < answers.size(); ++k) EXPECT_EQ(answers[k].get(), want[k % cases.size()]) << "request " << k;

  // Under extra_body, as the OpenAI Python client sends it.
  json extra = chat(kPrompt, 16);
  extra["extra_body"] = {{"steering", cases[1].steering}};
  EXPECT_EQ(post(*r.client, "/v1/chat/completions", extra)["choices"][0]["message"]["content"], want[1]);
  r.server->stop(5);
}

TEST(Server, MalformedRequestsGet400NamingTheFieldAndTheServerKeepsServing) {
  Running r = start();
  const json good = chat(kPrompt, 4);
  auto with = [&](const char* key, json value) {
    json b = good;
    b[key] = value;
    return b;
  };
  auto steer_with = [&](json add) { return with("steering", {{"add", json::array({add})}}); };
  struct Bad {
    std::string body;
    std::string param;  // the field the error must name
  };
  std::vector<Bad> table = {
      {"{not json", ""},
      {"[1, 2]", ""},
      {json({{"max_tokens", 4}}).dump(), "messages"},
      {with("messages", json::array()).dump(), "messages"},
      {with("messages", {{{"role", "robot"}, {"content", "hi"}}}).dump(), "messages[0].role"},
      {with("messages", {{{"role", "user"}, {"content", 5}}}).dump(), "messages[0].content"},
      {with("max_tokens", 0).dump(), "max_tokens"},
      {with("max_tokens", 1 << 30).dump(), "max_tokens"},
      {with("max_tokens", "ten").dump(), "max_tokens"},
      {with("temperature", -1).dump(), "temperature"},
      {with("temperature", "hot").dump(), "temperature"},
      {with("top_p", 0).dump(), "top_p"},
      {with("n", 3).dump(), "n"},
      {with("seed", -1).dump(), "seed"},
      {with("stop", {1, 2}).dump(), "stop"},
      {with("stream", "yes").dump(), "stream"},
      {with("steering", "push").dump(), "steering"},
      {with("steering", {{"multiply", {}}}).dump(), "steering.multiply"},
      {steer_with({{"vector", "nope"}, {"coefficient", 1}}).dump(), "steering.add[0].vector"},
      {steer_with({{"vector", "push"}, {"coefficient", "big"}}).dump(), "steering.add[0].coefficient"},
      {steer_with({{"vector", "push"}, {"coefficient", 1e9}}).dump(), "steering.add[0].coefficient"},
      {R"({"messages": [{"role": "user", "content": "hi"}], "steering": {"add": [{"vector": "push", "coefficient": NaN}]}})",
       ""},
      {steer_with({{"vector", "push"}, {"layers", {99}}}).dump(), "steering.add[0].layers"},
      {steer_with({{"vector", "push"}, {"layers", "3-1"}}).dump(), "steering.add[0].layers"},
      {steer_with({{"vector", "push"}, {"layers", {4}}}).dump(), "steering.add[0]"},  // push has no layer 4
      {steer_with({{"vector", "push"}, {"positions", "middle"}}).dump(), "steering.add[0].positions"},
      {steer_with({{"vector", "push"}, {"colour", "red"}}).dump(), "steering.add[0].colour"},
      {with("steering", {{"ablate", {"push"}}}).dump(), "steering.ablate[0]"},
      {with("steering", {{"ablate", json::array({{{"vector", "push"}, {"layer", -1}}})}}).dump(), "steering.ablate[0].layer"},
      {with("messages", {{{"role", "user"}, {"content", std::string(20000, 'a')}}}).dump(), "messages"},
  };
  for (const Bad& b : table) {
    auto res = r.client->Post("/v1/chat/completions", b.body, "application/json");
    ASSERT_TRUE(res) << b.body.substr(0, 80);
    EXPECT_EQ(res->status, 400) << b.body.substr(0, 120) << " → " << res->body;
    json e = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(e.contains("error")) << res->body;
    EXPECT_EQ(e["error"]["type"], "invalid_request_error");
    EXPECT_FALSE(e["error"]["message"].get<std::string>().empty());
    if (!b.param.empty()) EXPECT_EQ(e["error"]["param"], b.param) << b.body.substr(0, 120) << " → " << res->body;
  }
  int status = 0;
  post(*r.client, "/v1/chat/completions", good, &status);
  EXPECT_EQ(status, 200) << "the server stopped serving after bad input";
  EXPECT_EQ(r.client->Get("/no/such/route")->status, 404);
  r.server->stop(5);
}

TEST(Server, ApiKeyIsRequiredWhenSet) {
  ServerOptions o;
  o.api_key = "sesame";
  Running r = start(o);
  auto res = r.client->Post("/v1/chat/completions", chat(kPrompt, 2).dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(json::parse(res->body)["error"]["type"], "authentication_error");
  EXPECT_EQ(r.client->Get("/health")->status, 200) << "health stays open";
  httplib::Headers h = {{"Authorization", "Bearer sesame"}};
  res = r.client->Post("/v1/chat/completions", h, chat(kPrompt, 2).dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  h = {{"Authorization", "Bearer wrong"}};
  EXPECT_EQ(r.client->Get("/v1/models", h)->status, 401);
  r.server->stop(5);
}

TEST(Server, VectorsAreListedLoadedFromTheFolderOnlyAndUnloaded) {
  Running r = start();
  json list = json::parse(r.client->Get("/v1/steering/vectors")->body);
  ASSERT_EQ(list["data"].size(), 2u) << list.dump();  // calm, push; notes.txt is not a vector
  EXPECT_EQ(list["data"][0]["name"], "calm");
  EXPECT_EQ(list["data"][1]["layers"], json({1, 2, 3}));
  int status = 0;
  for (const char* path : {"../push.safetensors", "/etc/passwd", "push", "missing.gguf", "notes.txt"}) {
    json e = post(*r.client, "/v1/steering/vectors", {{"file", path}}, &status);
    EXPECT_EQ(status, 400) << path << " → " << e.dump();
  }
  json ok = post(*r.client, "/v1/steering/vectors", {{"file", "push.safetensors"}, {"name", "push2"}}, &status);
  EXPECT_EQ(status, 200) << ok.dump();
  EXPECT_EQ(json::parse(r.client->Get("/v1/steering/vectors")->body)["data"].size(), 3u);
  EXPECT_EQ(r.client->Delete("/v1/steering/vectors/push2")->status, 200);
  EXPECT_EQ(r.client->Delete("/v1/steering/vectors/push2")->status, 404);
  post(*r.client, "/v1/chat/completions", chat(kPrompt, 4, json{{"add", json::array({json{{"vector", "push2"}}})}}), &status);
  EXPECT_EQ(status, 400) << "an unloaded vector is gone";
  r.server->stop(5);
}

// A client that goes away mid-stream: its row is cancelled at the next step and the server
// goes on serving.
TEST(Server, ADisconnectedStreamFreesItsRow) {
  Running r = start();
  json add = {{"vector", "push"}, {"coefficient", 40}, {"positions", "all"}};
  json body = {{"prompt", "Once upon a time"}, {"max_tokens", 400}, {"temperature", 1.5}, {"seed", 1}, {"stream", true},
               {"steering", {{"add", json::array({add})}}}};
  int chunks = 0;
  httplib::Client c("127.0.0.1", r.port);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 2; };  // hang up
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  EXPECT_FALSE(c.send(req, res, error)) << "the client was meant to abort";
  std::string metrics;
  bool freed = false;
  for (int i = 0; i < 100 && !freed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    metrics = r.client->Get("/metrics")->body;
    freed = metrics.find("steer_running_requests 0") != std::string::npos;
  }
  EXPECT_TRUE(freed) << metrics;
  EXPECT_NE(metrics.find("steer_requests_cancelled_total 1"), std::string::npos) << metrics;
  int status = 0;
  post(*r.client, "/v1/chat/completions", chat(kPrompt, 4), &status);
  EXPECT_EQ(status, 200);
  r.server->stop(5);
}

// The queue: beyond max_batch running and max_queue waiting, a request is refused (the server
// answers it 429 with Retry-After); one that waits is admitted when a row frees.
TEST(Scheduler, RefusesBeyondTheQueueAndAdmitsWhenARowFrees) {
  auto m = test::tiny_chat();
  serve::Scheduler s(m, {/*max_batch=*/1, /*max_queue=*/1});
  std::atomic<bool> release{false};
  auto job = [&](bool blocking) {
    auto j = std::make_shared<serve::Job>();
    j->prompt = encode_raw_prompt(*m, "Once upon a time");
    j->max_tokens = 3;
    j->sampling.temperature = 0;
    if (blocking)
      j->on_delta = [&](const std::string&) {
        while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return true;
      };
    return j;
  };
  auto a = job(true), b = job(false), c = job(false);
  ASSERT_TRUE(s.submit(a));
  while (s.metrics().running < 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(s.submit(b)) << "one may wait";
  EXPECT_FALSE(s.submit(c)) << "the queue is full";
  EXPECT_EQ(s.metrics().rejected, 1);
  release = true;
  ASSERT_TRUE(a->wait_for(std::chrono::seconds(30)));
  ASSERT_TRUE(b->wait_for(std::chrono::seconds(30)));
  EXPECT_EQ(b->result().ids.size(), 3u);
  EXPECT_EQ(a->result().ids, b->result().ids);
  s.stop(5);
  EXPECT_FALSE(s.submit(job(false))) << "a stopped scheduler takes nothing";
}

// A request whose steering overflows the activations (NaN logits) ends with finish_reason
// "error" saying so; a request decoded beside it in the same batch is unharmed (class 6).
TEST(Scheduler, NonFiniteLogitsEndOnlyThatRequest) {
  auto m = test::tiny_chat();
  serve::Scheduler s(m, {/*max_batch=*/2, /*max_queue=*/2});
  auto job = [&] {
    auto j = std::make_shared<serve::Job>();
    j->prompt = encode_raw_prompt(*m, "Once upon a time");
    j->max_tokens = 4;
    j->sampling.temperature = 0;
    return j;
  };
  auto plain = job(), alone = job(), huge = job();
  std::vector<int> layers;
  for (int l = 0; l < m->config().n_layers; ++l) layers.push_back(l);
  huge->steering.then(make_add(at::full({m->config().d_model}, 1e30f), 1e30f, layers));
  ASSERT_TRUE(s.submit(alone));
  ASSERT_TRUE(alone->wait_for(std::chrono::seconds(30)));
  ASSERT_TRUE(s.submit(huge));
  ASSERT_TRUE(s.submit(plain));
  ASSERT_TRUE(huge->wait_for(std::chrono::seconds(30)));
  ASSERT_TRUE(plain->wait_for(std::chrono::seconds(30)));
  EXPECT_EQ(huge->result().finish_reason, "error");
  EXPECT_NE(huge->result().error.find("not finite"), std::string::npos) << huge->result().error;
  EXPECT_EQ(plain->result().ids, alone->result().ids);
  s.stop(5);
}

}  // namespace
}  // namespace steer
