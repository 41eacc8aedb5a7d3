// The two pair loaders: CAA A/B sets ({question, answer_matching_behavior,
// answer_not_matching_behavior} lists) and StereoSet (the flat pair layout and StereoSet's own
// dev.json). The first byte picks the loader; the rest is the file.
#include "fuzz_target.h"
#include "steer/error.h"
#include "steer/prompts.h"

STEER_FUZZ_TARGET(ab_stereoset) {
  if (size < 1) return;
  if (data[0] & 1) {
    (void)steer::load_stereoset(steer::fuzz::write_input(data + 1, size - 1, "stereoset.json"));
  } else {
    const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    (void)steer::parse_ab_set(bytes, "ab.json");
  }
}
