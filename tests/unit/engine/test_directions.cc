// DirectionSet as a value: construction checks, access, normalization, algebra, and the
// compatibility check against a model's config.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "steer/error.h"
#include "test_errors.h"
#include "steer/config.h"
#include "steer/directions.h"

namespace steer {
namespace {

at::Tensor vec(std::vector<float> v) { return at::tensor(v, at::kFloat); }

DirectionSet make(std::map<int, at::Tensor> v, SiteKind site = SiteKind::kResidPost, std::string method = "m") {
  DirectionMeta m;
  m.site = site;
  m.method = std::move(method);
  m.model = "toy";
  return DirectionSet(m, std::move(v));
}

using test::error_of;

TEST(DirectionSet, ConstructionInfersDModelAndCopies) {
  at::Tensor a = vec({3, 4});
  DirectionSet s = make({{2, a}});
  EXPECT_EQ(s.meta().d_model, 2);
  a[0] = 100.f;  // the set holds its own copy
  EXPECT_FLOAT_EQ(s.at_layer(2)[0].item<float>(), 3.f);
  EXPECT_EQ(s.layers(), std::vector<int>({2}));
  EXPECT_TRUE(s.has(2));
  EXPECT_FALSE(s.has(1));
}

TEST(DirectionSet, ConstructionRejectsBadVectors) {
  EXPECT_NE(error_of([] { make({{0, vec({1, 2})}, {1, vec({1, 2, 3})}}); }).find("3 elements but d_model is 2"),
            std::string::npos);
  EXPECT_NE(error_of([] { make({{0, at::zeros({2, 2})}}); }).find("1-D"), std::string::npos);
  EXPECT_NE(error_of([] { make({{-1, vec({1})}}); }).find("negative"), std::string::npos);
  DirectionMeta m;
  m.n_layers = 4;
  EXPECT_NE(error_of([&] { DirectionSet(m, {{4, vec({1})}}); }).find("the model has 4 layers"), std::string::npos);
  // float64 input is stored as float32
  DirectionSet d = make({{0, at::tensor({1.0, 2.0}, at::kDouble)}});
  EXPECT_EQ(d.at_layer(0).scalar_type(), at::kFloat);
}

TEST(DirectionSet, AtLayerAndOnlyLayersNameWhatIsPresent) {
  DirectionSet s = make({{1, vec({1, 0})}, {3, vec({0, 1})}});
  std::string msg = error_of([&] { s.at_layer(2); });
  EXPECT_NE(msg.find("layer 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1,3"), std::string::npos) << msg;
  EXPECT_EQ(s.only_layers({3}).layers(), std::vector<int>({3}));
  EXPECT_THROW(s.only_layers({0}), Error);
}

TEST(DirectionSet, NormalizedAndRescaled) {
  DirectionSet s = make({{0, vec({3, 4})}, {1, vec({0, 2})}});
  DirectionSet n = s.normalized();
  EXPECT_NEAR(n.at_layer(0).norm().item<float>(), 1.f, 1e-6);
  EXPECT_NEAR(n.at_layer(0)[0].item<float>(), 0.6f, 1e-7);
  DirectionSet r = s.rescaled(10.f);
  EXPECT_NEAR(r.at_layer(1)[1].item<float>(), 10.f, 1e-6);
  DirectionSet zero = make({{0, vec({0, 0})}});
  EXPECT_NE(error_of([&] { zero.normalized(); }).find("layer 0 has norm 0"), std::string::npos);
  EXPECT_THROW(s.rescaled(-1.f), Error);
}

TEST(DirectionSet, AlgebraIsLayerwiseWithMissingLayersAsZero) {
  DirectionSet a = make({{0, vec({1, 2})}, {1, vec({3, 4})}}, SiteKind::kResidPost, "a");
  DirectionSet b = make({{1, vec({10, 20})}, {2, vec({5, 6})}}, SiteKind::kResidPost, "b");
  a.meta().extra["keep"] = 1;
  DirectionSet sum = a + b;
  EXPECT_EQ(sum.layers(), std::vector<int>({0, 1, 2}));
  EXPECT_TRUE(at::equal(sum.at_layer(1), vec({13, 24})));
  EXPECT_TRUE(at::equal(sum.at_layer(2), vec({5, 6})));
  EXPECT_EQ(sum.meta().extra["keep"], 1);  // left operand's metadata
  EXPECT_EQ(sum.meta().method, "(a) + (b)");
  DirectionSet diff = a - b;
  EXPECT_TRUE(at::equal(diff.at_layer(2), vec({-5, -6})));
  EXPECT_TRUE(at::equal(diff.at_layer(0), vec({1, 2})));
  DirectionSet scaled = 2.f * a;
  EXPECT_TRUE(at::equal(scaled.at_layer(1), vec({6, 8})));
  EXPECT_EQ(scaled.meta().method, "2 * (a)");
  EXPECT_TRUE(at::equal((-a).at_layer(0), vec({-1, -2})));
}

TEST(DirectionSet, AlgebraRefusesMixedSitesModelsAndKinds) {
  DirectionSet a = make({{0, vec({1, 2})}});
  DirectionSet pre = make({{0, vec({1, 2})}}, SiteKind::kResidPre);
  EXPECT_NE(error_of([&] { a + pre; }).find("sites differ"), std::string::npos);
  DirectionSet wide = make({{0, vec({1, 2, 3})}});
  std::string msg = error_of([&] { a - wide; });
  EXPECT_NE(msg.find("2 vs 3"), std::string::npos) << msg;
  DirectionSet abl = a;
  abl.meta().kind = "ablation";
  EXPECT_NE(error_of([&] { a + abl; }).find("ablation"), std::string::npos);
  EXPECT_EQ((abl * 2.f).meta().kind, "ablation");  // scaling keeps the mark
}

TEST(DirectionSet, CheckCompatibleNamesBothNumbers) {
  ModelConfig c;
  c.d_model = 576;
  c.n_layers = 30;
  DirectionSet s = make({{0, at::ones({64})}});
  std::string msg = error_of([&] { s.check_compatible(c, "steering vector file x.gguf"); });
  EXPECT_NE(msg.find("x.gguf"), std::string::npos) << msg;
  EXPECT_NE(msg.find("64"), std::string::npos) << msg;
  EXPECT_NE(msg.find("576"), std::string::npos) << msg;

  DirectionMeta m;
  m.n_layers = 24;
  DirectionSet t(m, {{0, at::ones({576})}});
  msg = error_of([&] { t.check_compatible(c, "v"); });
  EXPECT_NE(msg.find("24"), std::string::npos) << msg;
  EXPECT_NE(msg.find("30"), std::string::npos) << msg;

  DirectionSet deep = make({{31, at::ones({576})}});
  msg = error_of([&] { deep.check_compatible(c, "v"); });
  EXPECT_NE(msg.find("layer 31"), std::string::npos) << msg;
  DirectionSet ok = make({{29, at::ones({576})}});
  EXPECT_NO_THROW(ok.check_compatible(c, "v"));
}

}  // namespace
}  // namespace steer
