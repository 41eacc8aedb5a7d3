// Prompt-set loaders: JSON, JSONL and CSV (and plain text) in every preset's layout, detected or
// forced. The first byte picks the format, the preset and whether a field is named; the rest is
// the file's bytes.
#include "fuzz_target.h"
#include "steer/error.h"
#include "steer/prompts.h"

STEER_FUZZ_TARGET(prompts) {
  if (size < 1) return;
  static const char* sources[] = {"prompts.json", "prompts.jsonl", "prompts.csv", "prompts.txt"};
  static const steer::FileFormat formats[] = {steer::FileFormat::kAuto, steer::FileFormat::kJson,
                                              steer::FileFormat::kJsonl, steer::FileFormat::kCsv,
                                              steer::FileFormat::kText};
  const uint8_t pick = data[0];
  steer::PromptFormat format;
  format.format = formats[pick % 5];
  const auto& presets = steer::prompt_presets();
  if (pick & 0x20) format.preset = presets[(pick >> 3) % presets.size()];
  if (pick & 0x40) format.field = "goal";
  if (pick & 0x80) format.category_field = "category";
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  steer::PromptSet set = steer::parse_prompts(bytes, sources[(pick >> 1) % 4], format);
  (void)set.instructions();
}
