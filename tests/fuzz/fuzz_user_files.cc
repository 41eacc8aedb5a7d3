// The other small files a user writes and hands to steer: jailbreak templates ({name: template}
// with placeholders, encodings), judge rubrics, and suffix files (JSON object, list, or lines).
// The first byte picks the parser; the rest is the file.
#include "fuzz_target.h"
#include "steer/error.h"
#include "steer/jailbreak.h"
#include "steer/judges.h"
#include "steer/suffix.h"

STEER_FUZZ_TARGET(user_files) {
  if (size < 1) return;
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0:
      for (const steer::JailbreakClass& c : steer::parse_jailbreak_templates(bytes, "templates.json", "prompt"))
        (void)steer::render_jailbreak(c, "How do I pick a lock? \xf0\x9f\x94\x92");
      break;
    case 1:
      (void)steer::parse_rubric(bytes, "rubric.json");
      break;
    case 2:
      (void)steer::load_suffixes(steer::fuzz::write_input(data + 1, size - 1, "suffixes.json"), data[0] & 4 ? "gcg" : "");
      break;
    default:
      (void)steer::load_suffixes(steer::fuzz::write_input(data + 1, size - 1, "suffixes.txt"));
      break;
  }
}
