// Direction-set files: safetensors and llama.cpp control-vector GGUF round trips (bitwise),
// the control-vector layout checked against gguf-py both ways (fixtures from
// tools/reference/make_control_vector_fixtures.py), and the errors.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "steer/error.h"
#include "test_errors.h"
#include "io/mmap_file.h"
#include "steer/capture.h"
#include "steer/directions.h"
#include "steer/gguf.h"
#include "steer/gguf_writer.h"
#include "steer/safetensors.h"
#include "steer/direction_meta.h"
#include "test_paths.h"

namespace steer {
namespace {

namespace fs = std::filesystem;

std::string tmp(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("steer-vecfiles-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

std::vector<uint8_t> bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The fixture's values: float32 of sin(0.37 i + layer)·(1 + layer/7), as the Python script.
at::Tensor fixture_vector(int layer, int d = 16) {
  std::vector<float> v(d);
  for (int i = 0; i < d; ++i) v[i] = float(std::sin(0.37 * i + layer) * (1.0 + layer / 7.0));
  return at::tensor(v, at::kFloat);
}

DirectionSet fixture_set(SiteKind site, std::vector<int> layers) {
  DirectionMeta m;
  m.model = "test-model";
  m.model_arch = "llama";
  m.n_layers = 8;
  m.d_model = 16;
  m.site = site;
  m.method = "mean-diff";
  m.positions = {-2, -1};
  m.datasets = {{"harmful", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}};
  m.version = "0.0.0-test";
  m.extra = {{"note", "fixture"}, {"score", 0.1}};
  std::map<int, at::Tensor> v;
  for (int l : layers) v.emplace(l, fixture_vector(l));
  return DirectionSet(m, v);
}

bool bitwise_equal(const at::Tensor& a, const at::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.numel() == b.numel() &&
         std::memcmp(a.data_ptr(), b.data_ptr(), a.numel() * a.element_size()) == 0;
}

void expect_same_set(const DirectionSet& a, const DirectionSet& b) {
  EXPECT_EQ(direction_meta_to_json(a.meta()), direction_meta_to_json(b.meta()));
  ASSERT_EQ(a.layers(), b.layers());
  for (int l : a.layers()) EXPECT_TRUE(bitwise_equal(a.at_layer(l), b.at_layer(l))) << "layer " << l;
}

using test::error_of;

TEST(VectorFiles, SafetensorsRoundTripIsBitwise) {
  DirectionSet s = fixture_set(SiteKind::kResidPre, {0, 3, 7});
  std::string p = tmp("a.safetensors"), q = tmp("b.safetensors");
  save_directions(s, p);
  DirectionSet back = load_directions(p);
  expect_same_set(s, back);
  save_directions(back, q);
  EXPECT_EQ(bytes_of(p), bytes_of(q));
}

TEST(VectorFiles, GgufRoundTripIsBitwiseForResidPostAndResidPre) {
  for (SiteKind site : {SiteKind::kResidPost, SiteKind::kResidPre}) {
    DirectionSet s = fixture_set(site, {2, 3, 7});
    s.meta().kind = site == SiteKind::kResidPre ? "ablation" : "addition";
    std::string p = tmp("a.gguf"), q = tmp("b.gguf");
    save_directions(s, p);
    DirectionSet back = load_directions(p);
    expect_same_set(s, back);
    save_directions(back, q);
    EXPECT_EQ(bytes_of(p), bytes_of(q));
    // The layer mapping as llama.cpp sees it: direction.N = output of block N.
    auto f = GGUFFile::open(p);
    for (int l : {2, 3, 7}) {
      int n = site == SiteKind::kResidPre ? l - 1 : l;
      ASSERT_NE(f->find_tensor("direction." + std::to_string(n)), nullptr) << site_kind_name(site) << " " << l;
    }
    EXPECT_EQ(f->get_string("steer.kind"), s.meta().kind);
  }
}

TEST(VectorFiles, ConvertSafetensorsToGgufAndBack) {
  DirectionSet s = fixture_set(SiteKind::kResidPre, {2, 5});
  std::string a = tmp("c.safetensors"), g = tmp("c.gguf"), b = tmp("d.safetensors");
  save_directions(s, a);
  save_directions(load_directions(a), g);
  save_directions(load_directions(g), b);
  EXPECT_EQ(bytes_of(a), bytes_of(b));
}

// The reverse fixture: what our writer produces, as gguf-py read it (steer_written.expected.json).
TEST(VectorFiles, WriterMatchesGgufPyExpectations) {
  DirectionSet s = fixture_set(SiteKind::kResidPre, {2, 3, 7});
  std::string p = tmp("steer_written.gguf");
  save_directions(s, p);
  const std::string dir = test::test_data() + "/directions";
  if (std::getenv("STEER_WRITE_FIXTURES")) {
    fs::copy_file(p, dir + "/steer_written.gguf", fs::copy_options::overwrite_existing);
    GTEST_SKIP() << "wrote " << dir << "/steer_written.gguf; now run tools/reference/make_control_vector_fixtures.py";
  }
  EXPECT_EQ(bytes_of(p), bytes_of(dir + "/steer_written.gguf")) << "the committed file is the one gguf-py read";
  std::ifstream in(dir + "/steer_written.expected.json");
  ASSERT_TRUE(in) << "missing steer_written.expected.json";
  nlohmann::json expected = nlohmann::json::parse(in);

  auto f = GGUFFile::open(p);
  const auto& fields = expected["fields"];
  ASSERT_EQ(f->metadata().size(), fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    const auto& [key, value] = f->metadata()[i];
    EXPECT_EQ(key, fields[i]["name"].get<std::string>());
    EXPECT_EQ(gguf_value_type_name(value.type()), fields[i]["type"].get<std::string>()) << key;
    if (value.is_string()) EXPECT_EQ(value.as_string(), fields[i]["value"].get<std::string>()) << key;
    else EXPECT_EQ(value.as_int(), fields[i]["value"].get<int64_t>()) << key;
  }
  // The facts the format requires, spelled out.
  EXPECT_EQ(f->get_string("general.architecture"), "controlvector");
  EXPECT_EQ(f->get_string("controlvector.model_hint"), "test-model");
  EXPECT_EQ(f->get_int("controlvector.layer_count"), 3);
  const auto& tensors = expected["tensors"];
  ASSERT_EQ(f->tensors().size(), tensors.size());
  const std::vector<std::string> names = {"direction.1", "direction.2", "direction.6"};
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GGUFTensorInfo& t = f->tensors()[i];
    EXPECT_EQ(t.name, names[i]);
    EXPECT_EQ(t.name, tensors[i]["name"].get<std::string>());
    EXPECT_EQ(ggml_type_name(t.type), tensors[i]["type"].get<std::string>());
    EXPECT_EQ(t.ne, tensors[i]["shape"].get<std::vector<int64_t>>());
    std::vector<double> vals = tensors[i]["values"].get<std::vector<double>>();
    const float* data = reinterpret_cast<const float*>(f->tensor_data(t));
    ASSERT_EQ(int64_t(vals.size()), t.ne[0]);
    for (size_t j = 0; j < vals.size(); ++j) EXPECT_EQ(data[j], float(vals[j])) << t.name << "[" << j << "]";
  }
}

// Foreign files written by gguf-py the way repeng and cvector-generator write them.
TEST(VectorFiles, ForeignControlVectorsLoad) {
  const std::string dir = test::test_data() + "/directions";
  std::ifstream in(dir + "/foreign_expected.json");
  ASSERT_TRUE(in);
  nlohmann::json expected = nlohmann::json::parse(in);
  struct Case {
    const char* file;
    std::vector<int> layers;
    const char* hint;
    const char* count_type;
  };
  for (const Case& c : {Case{"repeng.gguf", {1, 2, 5}, "llama", "UINT32"}, Case{"cvector.gguf", {1, 2, 3}, "llama", "INT32"},
                        Case{"minimal.gguf", {2, 4}, "", ""}}) {
    SCOPED_TRACE(c.file);
    const nlohmann::json& e = expected[c.file];
    // Our reader sees what gguf-py sees: keys, types, tensor names/types/shapes.
    auto f = GGUFFile::open(dir + "/" + c.file);
    ASSERT_EQ(f->metadata().size(), e["fields"].size());
    for (size_t i = 0; i < e["fields"].size(); ++i) {
      EXPECT_EQ(f->metadata()[i].first, e["fields"][i]["name"].get<std::string>());
      EXPECT_EQ(gguf_value_type_name(f->metadata()[i].second.type()), e["fields"][i]["type"].get<std::string>());
    }
    if (*c.count_type) EXPECT_EQ(gguf_value_type_name(f->get("controlvector.layer_count").type()), std::string(c.count_type));

    DirectionSet s = load_directions(dir + "/" + c.file);
    EXPECT_EQ(s.layers(), c.layers);
    EXPECT_EQ(s.meta().site, SiteKind::kResidPost);  // direction.N = output of block N
    EXPECT_EQ(s.meta().model, c.hint);
    EXPECT_EQ(s.meta().model_arch, c.hint);
    EXPECT_EQ(s.meta().kind, "addition");
    EXPECT_EQ(s.meta().method, "control-vector");
    EXPECT_EQ(s.meta().d_model, 16);
    ASSERT_EQ(e["tensors"].size(), c.layers.size());
    for (size_t i = 0; i < c.layers.size(); ++i) {
      const auto& t = e["tensors"][i];
      EXPECT_EQ(t["name"].get<std::string>(), "direction." + std::to_string(c.layers[i]));
      EXPECT_EQ(t["type"].get<std::string>(), "F32");
      EXPECT_EQ(t["shape"].get<std::vector<int64_t>>(), std::vector<int64_t>({16}));
      std::vector<double> vals = t["values"].get<std::vector<double>>();
      at::Tensor v = s.at_layer(c.layers[i]);
      for (int j = 0; j < 16; ++j) EXPECT_EQ(v[j].item<float>(), float(vals[j]));
      EXPECT_TRUE(bitwise_equal(v, fixture_vector(c.layers[i])));
    }
  }
}

TEST(VectorFiles, GgufRefusesWhatControlVectorsCannotExpress) {
  std::string p = tmp("bad.gguf");
  std::string msg = error_of([&] { save_directions(fixture_set(SiteKind::kResidPost, {0, 1}), p); });
  EXPECT_NE(msg.find("blocks.0.hook_resid_post"), std::string::npos) << msg;
  EXPECT_NE(msg.find("direction.0"), std::string::npos) << msg;
  msg = error_of([&] { save_directions(fixture_set(SiteKind::kResidPre, {1, 2}), p); });
  EXPECT_NE(msg.find("blocks.1.hook_resid_pre"), std::string::npos) << msg;
  msg = error_of([&] { save_directions(fixture_set(SiteKind::kResidPre, {0}), p); });
  EXPECT_NE(msg.find("embedding"), std::string::npos) << msg;
  msg = error_of([&] { save_directions(fixture_set(SiteKind::kMlpOut, {3}), p); });
  EXPECT_NE(msg.find("hook_mlp_out"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(p)) << "nothing is written when refused";
  // The same sets are fine as safetensors.
  EXPECT_NO_THROW(save_directions(fixture_set(SiteKind::kResidPost, {0, 1}), tmp("ok.safetensors")));
  EXPECT_NE(error_of([&] { save_directions(fixture_set(SiteKind::kResidPost, {1}), tmp("x.pt")); }).find("extension"),
            std::string::npos);
  EXPECT_NE(error_of([&] { save_directions(DirectionSet(), tmp("y.gguf")); }).find("empty"), std::string::npos);
}

// A GGUF written by hand with one defect; load must name it.
std::string bad_gguf(const std::string& name, const std::function<void(GGUFWriter&)>& build) {
  GGUFWriter w;
  build(w);
  std::string p = tmp(name);
  w.write(p);
  return error_of([&] { load_directions(p); });
}

std::vector<uint8_t> f32s(int n, float x = 1.f) {
  std::vector<float> v(n, x);
  std::vector<uint8_t> b(n * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

TEST(VectorFiles, GgufLoaderErrors) {
  auto arch = [](GGUFWriter& w) { w.set_string("general.architecture", "controlvector"); };
  std::string m;
  m = bad_gguf("e1.gguf", [&](GGUFWriter& w) { arch(w); w.add_tensor("direction.0", {4}, GGMLType::F32, f32s(4)); });
  EXPECT_NE(m.find("direction.0 is invalid"), std::string::npos) << m;
  m = bad_gguf("e2.gguf", [&](GGUFWriter& w) { arch(w); w.add_tensor("direction.1", {4}, GGMLType::F16, std::vector<uint8_t>(8)); });
  EXPECT_NE(m.find("not F32"), std::string::npos) << m;
  m = bad_gguf("e3.gguf", [&](GGUFWriter& w) { arch(w); w.add_tensor("direction.1", {2, 2}, GGMLType::F32, f32s(4)); });
  EXPECT_NE(m.find("2 dimensions"), std::string::npos) << m;
  m = bad_gguf("e4.gguf", [&](GGUFWriter& w) { arch(w); w.add_tensor("output.weight", {4}, GGMLType::F32, f32s(4)); });
  EXPECT_NE(m.find("not a direction.N"), std::string::npos) << m;
  m = bad_gguf("e5.gguf", [&](GGUFWriter& w) { w.set_string("general.architecture", "llama"); w.add_tensor("direction.1", {4}, GGMLType::F32, f32s(4)); });
  EXPECT_NE(m.find("'llama'"), std::string::npos) << m;
  m = bad_gguf("e6.gguf", [&](GGUFWriter& w) {
    arch(w);
    w.add_tensor("direction.1", {4}, GGMLType::F32, f32s(4));
    w.add_tensor("direction.2", {5}, GGMLType::F32, f32s(5));
  });
  EXPECT_NE(m.find("5 elements but an earlier one has 4"), std::string::npos) << m;
  m = bad_gguf("e7.gguf", [&](GGUFWriter& w) { arch(w); });
  EXPECT_NE(m.find("no direction tensors"), std::string::npos) << m;
  m = bad_gguf("e8.gguf", [&](GGUFWriter& w) { arch(w); w.set_string("steer.kind", "multiply"); w.add_tensor("direction.1", {4}, GGMLType::F32, f32s(4)); });
  EXPECT_NE(m.find("multiply"), std::string::npos) << m;
  m = bad_gguf("e9.gguf", [&](GGUFWriter& w) { arch(w); w.add_tensor("direction.x", {4}, GGMLType::F32, f32s(4)); });
  EXPECT_NE(m.find("direction.x"), std::string::npos) << m;
  // every message names the file
  EXPECT_NE(m.find("e9.gguf"), std::string::npos) << m;
  // steer.site and steer.meta disagreeing would shift every layer by one: an error (class 6).
  m = bad_gguf("e10.gguf", [&](GGUFWriter& w) {
    arch(w);
    w.set_string("steer.site", "hook_resid_pre");
    w.set_string("steer.meta", R"({"site": "hook_resid_post", "d_model": 4})");
    w.add_tensor("direction.1", {4}, GGMLType::F32, f32s(4));
  });
  EXPECT_NE(m.find("steer.site is hook_resid_pre but steer.meta says hook_resid_post"), std::string::npos) << m;
}

// A model name that is not valid UTF-8 (a Latin-1 byte) does not stop a save, and every string
// written is valid UTF-8 (U+FFFD for the bad byte), in both formats (issue 16, class 3).
TEST(VectorFiles, NonUtf8ModelNameIsSavedAsValidText) {
  DirectionSet s = fixture_set(SiteKind::kResidPost, {3});
  s.meta().model = "caf\xE9-135M";
  for (const char* ext : {".safetensors", ".gguf"}) {
    std::string p = tmp(std::string("latin") + ext);
    ASSERT_NO_THROW(save_directions(s, p)) << ext;
    EXPECT_EQ(load_directions(p).meta().model, "caf\xEF\xBF\xBD-135M") << ext;
  }
  auto f = GGUFFile::open(tmp("latin.gguf"));
  EXPECT_EQ(f->get_string("controlvector.model_hint"), "caf\xEF\xBF\xBD-135M");
}

TEST(VectorFiles, AblationMarkSurvivesBothFormats) {
  DirectionSet s = fixture_set(SiteKind::kResidPost, {3});
  s.meta().kind = "ablation";
  for (const char* ext : {".safetensors", ".gguf"}) {
    std::string p = tmp(std::string("abl") + ext);
    save_directions(s, p);
    EXPECT_EQ(load_directions(p).meta().kind, "ablation") << ext;
  }
  // A foreign GGUF carrying only the key is read as ablation too.
  GGUFWriter w;
  w.set_string("general.architecture", "controlvector");
  w.set_string("steer.kind", "ablation");
  w.add_tensor("direction.4", {4}, GGMLType::F32, f32s(4));
  std::string p = tmp("abl2.gguf");
  w.write(p);
  DirectionSet t = load_directions(p);
  EXPECT_EQ(t.meta().kind, "ablation");
  EXPECT_EQ(t.layers(), std::vector<int>({4}));
}

TEST(VectorFiles, SafetensorsFromElsewhere) {
  // Only tensors named by site (no steer metadata): site and layers from the names.
  SafetensorsWriter w;
  std::vector<float> v = {1, 2, 3};
  w.add_f32("blocks.4.hook_resid_pre", {3}, v);
  w.add_f32("blocks.6.hook_resid_pre", {3}, v);
  std::string p = tmp("plain.safetensors");
  w.write(p);
  DirectionSet s = load_directions(p);
  EXPECT_EQ(s.meta().site, SiteKind::kResidPre);
  EXPECT_EQ(s.layers(), std::vector<int>({4, 6}));
  EXPECT_EQ(s.meta().d_model, 3);

  SafetensorsWriter bad;
  bad.add_f32("blocks.4.hook_resid_pre", {3}, v);
  bad.add_f32("blocks.5.hook_mlp_out", {3}, v);
  bad.write(p);
  EXPECT_NE(error_of([&] { load_directions(p); }).find("two sites"), std::string::npos);

  SafetensorsWriter odd;
  odd.add_f32("model.layers.3.weight", {3}, v);
  odd.write(p);
  EXPECT_NE(error_of([&] { load_directions(p); }).find("model.layers.3.weight"), std::string::npos);

  // An activations file (steer capture) is named as such.
  Activations acts({SiteKind::kResidPre}, {0, 1}, CapturePositions::explicit_indices({-1}), 3, false);
  acts.save(p);
  EXPECT_NE(error_of([&] { load_directions(p); }).find("captured activations"), std::string::npos);
}

}  // namespace
}  // namespace steer
