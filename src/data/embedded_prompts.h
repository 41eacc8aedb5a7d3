// The files of data/prompts/, embedded into the library at build time by
// src/data/embed_prompts.cmake (which writes <build>/generated/embedded_prompts.cc), so the
// default sets work from any directory. The files in the source tree are the only copy
// that is edited; the generated table is rebuilt whenever one of them changes.
#pragma once
#include <cstddef>
#include <string>

namespace steer {

struct EmbeddedFile {
  const char* name;   // file name in data/prompts/, e.g. "harmful.json"
  const char* bytes;  // the file's bytes (not NUL-terminated in meaning; use size)
  size_t size;
};

extern const EmbeddedFile kEmbeddedPromptFiles[];
extern const size_t kEmbeddedPromptFileCount;

// The bytes of an embedded file by name ("jailbreak_templates.json"); steer::Error when absent.
std::string embedded_prompt_file(const std::string& name);

}  // namespace steer
