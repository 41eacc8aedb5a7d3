// The PromptSet / ABSet overloads of the extraction methods: they pass the texts on and record
// each file's sha256 in the result's metadata.
#include "steer/error.h"
#include "steer/prompts.h"
#include "steering/extract_texts.h"

namespace steer {

DirectionSet extract_mean_diff(const Model& model, const PromptSet& positive, const PromptSet& negative,
                               const ExtractOptions& options) {
  DirectionSet set = extract_mean_diff_texts(model, positive.instructions(), negative.instructions(), options);
  add_dataset(set.meta(), "positive", positive.name, positive.sha256);
  add_dataset(set.meta(), "negative", negative.name, negative.sha256);
  return set;
}

DirectionSet extract_pca(const Model& model, const PromptSet& positive, const PromptSet& negative,
                         const ExtractOptions& options) {
  DirectionSet set = extract_pca_texts(model, positive.instructions(), negative.instructions(), options);
  add_dataset(set.meta(), "positive", positive.name, positive.sha256);
  add_dataset(set.meta(), "negative", negative.name, negative.sha256);
  return set;
}

RefusalCandidates refusal_candidates(const Model& model, const PromptSet& harmful, const PromptSet& harmless,
                                     int batch_size, bool progress) {
  RefusalCandidates c = refusal_candidates(model, harmful.instructions(), harmless.instructions(), batch_size, progress);
  add_dataset(c.meta, "positive", harmful.name, harmful.sha256);
  add_dataset(c.meta, "negative", harmless.name, harmless.sha256);
  return c;
}

DirectionSet extract_caa(const Model& model, const ABSet& ab, const ExtractOptions& options) {
  if (ab.items.empty()) fail("caa: the A/B set " + ab.path + " has no item");
  std::vector<ABText> items;
  for (const ABItem& item : ab.items) items.push_back({item.question, item.answer_matching, item.answer_not_matching});
  DirectionSet set = extract_caa_texts(model, items, options);
  add_dataset(set.meta(), "ab", ab.name, ab.sha256);
  return set;
}

}  // namespace steer
