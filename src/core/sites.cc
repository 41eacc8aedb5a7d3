#include "steer/sites.h"

#include <cstdlib>
#include <numeric>
#include <set>
#include <sstream>

#include "steer/error.h"

namespace steer {
namespace {

struct KindName {
  SiteKind kind;
  const char* name;  // the part after "blocks.{l}."
};
constexpr KindName kBlockKinds[] = {
    {SiteKind::kResidPre, "hook_resid_pre"},   {SiteKind::kAttnZ, "attn.hook_z"},
    {SiteKind::kAttnPattern, "attn.hook_pattern"}, {SiteKind::kAttnOut, "hook_attn_out"},
    {SiteKind::kResidMid, "hook_resid_mid"},   {SiteKind::kMlpOut, "hook_mlp_out"},
    {SiteKind::kResidPost, "hook_resid_post"},
};
constexpr const char* kEmbedName = "hook_embed";
constexpr const char* kLnFinalName = "ln_final.hook_normalized";
constexpr const char* kValidForms =
    "hook_embed, blocks.{l}.hook_resid_pre, blocks.{l}.attn.hook_z, blocks.{l}.attn.hook_pattern, "
    "blocks.{l}.hook_attn_out, blocks.{l}.hook_resid_mid, blocks.{l}.hook_mlp_out, "
    "blocks.{l}.hook_resid_post, ln_final.hook_normalized";

}  // namespace

std::string site_kind_name(SiteKind kind) {
  if (kind == SiteKind::kEmbed) return kEmbedName;
  if (kind == SiteKind::kLnFinal) return kLnFinalName;
  for (const auto& k : kBlockKinds)
    if (k.kind == kind) return k.name;
  return "?";
}

std::string site_name(const Site& site) {
  if (!site.per_layer()) return site_kind_name(site.kind);
  return "blocks." + std::to_string(site.layer) + "." + site_kind_name(site.kind);
}

SiteKind parse_site_kind(const std::string& text) {
  if (text == kEmbedName || text == "embed") return SiteKind::kEmbed;
  if (text == kLnFinalName || text == "ln_final") return SiteKind::kLnFinal;
  for (const auto& k : kBlockKinds) {
    std::string full = k.name;
    std::string bare = full.substr(full.rfind("hook_") + 5);  // "resid_pre", "z", ...
    if (text == full || text == bare || text == "hook_" + bare) return k.kind;
  }
  fail("unknown hook site kind '" + text + "'",
       "use one of resid_pre, attn_out, resid_mid, mlp_out, resid_post, z, pattern");
}

Site parse_site(const std::string& text, int n_layers) {
  if (text == kEmbedName) return {SiteKind::kEmbed, -1};
  if (text == kLnFinalName) return {SiteKind::kLnFinal, -1};
  const std::string prefix = "blocks.";
  if (text.compare(0, prefix.size(), prefix) == 0) {
    size_t dot = text.find('.', prefix.size());
    std::string num = text.substr(prefix.size(), dot == std::string::npos ? 0 : dot - prefix.size());
    char* end = nullptr;
    long layer = num.empty() ? -1 : std::strtol(num.c_str(), &end, 10);
    if (dot != std::string::npos && !num.empty() && end && *end == '\0' && layer >= 0) {
      std::string rest = text.substr(dot + 1);
      for (const auto& k : kBlockKinds) {
        if (rest == k.name) {
          if (n_layers >= 0 && layer >= n_layers)
            fail("hook site '" + text + "' names layer " + std::to_string(layer) +
                     " but the model has " + std::to_string(n_layers) + " layers",
                 "layers are 0-based: 0.." + std::to_string(n_layers - 1));
          return {k.kind, static_cast<int>(layer)};
        }
      }
    }
  }
  fail("unknown hook site '" + text + "'", std::string("valid forms: ") + kValidForms);
}

std::vector<std::string> all_site_names(int n_layers) {
  std::vector<std::string> out{kEmbedName};
  for (int l = 0; l < n_layers; ++l)
    for (const auto& k : kBlockKinds) out.push_back(site_name({k.kind, l}));
  out.push_back(kLnFinalName);
  return out;
}

std::vector<int> parse_layer_list(const std::string& text, int n_layers, const std::string& what) {
  const bool bounded = n_layers > 0;
  auto bad = [&](const std::string& why) {
    fail((what.empty() ? "" : what + ": ") + "bad layer list '" + text + "': " + why,
         bounded ? "use all, a range like 0-" + std::to_string(n_layers - 1) + ", or a list like 3,5,7 (the model has " +
                       std::to_string(n_layers) + " layers, 0-based)"
                 : std::string("layers are 0-based: 10, 8-12 or 3,5"));
  };
  if (text == "all") {
    if (!bounded) bad("'all' needs the model's layer count; name the layers");
    std::vector<int> all(n_layers);
    std::iota(all.begin(), all.end(), 0);
    return all;
  }
  auto number = [&](const std::string& s) -> int {
    if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos)
      bad("'" + s + "' is not a layer number");
    int v = std::stoi(s);
    if (bounded && v >= n_layers)
      bad("layer " + s + " is out of range (the model has " + std::to_string(n_layers) + " layers)");
    if (!bounded && v >= kMaxModelLayers)  // a range up to it would be allocated layer by layer
      bad("layer " + s + " is out of range (no model has more than " + std::to_string(kMaxModelLayers) + " layers)");
    return v;
  };
  std::set<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t dash = item.find('-');
    if (dash == std::string::npos) {
      out.insert(number(item));
    } else {
      int lo = number(item.substr(0, dash)), hi = number(item.substr(dash + 1));
      if (hi < lo) bad("range " + item + " is empty");
      for (int l = lo; l <= hi; ++l) out.insert(l);
    }
  }
  if (out.empty()) bad("no layer given");
  return {out.begin(), out.end()};
}

}  // namespace steer
