// Text-level entry points of the extraction methods, for extract_sets.cc, which adapts the
// PromptSet/ABSet overloads (dataset provenance) onto them.
#pragma once
#include <string>
#include <vector>

#include "steer/extract.h"

namespace steer {

struct ABText {
  std::string question, matching, not_matching;
};

DirectionSet extract_mean_diff_texts(const Model& model, const std::vector<std::string>& positive,
                                     const std::vector<std::string>& negative, const ExtractOptions& options);
DirectionSet extract_pca_texts(const Model& model, const std::vector<std::string>& positive,
                               const std::vector<std::string>& negative, const ExtractOptions& options);
DirectionSet extract_caa_texts(const Model& model, const std::vector<ABText>& items, const ExtractOptions& options);

// Records a prompt file's sha256 under its name (or `role` when it has none / the name is taken).
void add_dataset(DirectionMeta& meta, const std::string& role, const std::string& name, const std::string& sha256);

}  // namespace steer
