// Hook-site names: TransformerLens's strings round-trip, bad names give errors that teach.
#include <gtest/gtest.h>

#include "steer/error.h"
#include "steer/sites.h"

namespace steer {

TEST(Sites, EveryNameRoundTrips) {
  auto names = all_site_names(4);
  ASSERT_EQ(names.size(), 2u + 4u * 7u);
  for (const auto& n : names) EXPECT_EQ(site_name(parse_site(n, 4)), n);
  EXPECT_EQ(names.front(), "hook_embed");
  EXPECT_EQ(names[1], "blocks.0.hook_resid_pre");
  EXPECT_EQ(names.back(), "ln_final.hook_normalized");
}

TEST(Sites, ParsesLayerAndKind) {
  Site s = parse_site("blocks.12.attn.hook_z");
  EXPECT_EQ(s.kind, SiteKind::kAttnZ);
  EXPECT_EQ(s.layer, 12);
  EXPECT_EQ(parse_site_kind("resid_post"), SiteKind::kResidPost);
  EXPECT_EQ(parse_site_kind("hook_mlp_out"), SiteKind::kMlpOut);
}

TEST(Sites, RejectsBadNames) {
  EXPECT_THROW(parse_site("blocks.x.hook_resid_pre"), Error);
  EXPECT_THROW(parse_site("blocks.3.hook_resid"), Error);
  EXPECT_THROW(parse_site("blocks.-1.hook_resid_pre"), Error);
  EXPECT_THROW(parse_site("resid_pre"), Error);
  try {
    parse_site("blocks.30.hook_resid_pre", 30);
    FAIL() << "layer 30 of 30 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("30 layers"), std::string::npos) << e.what();
  }
}

}  // namespace steer
