// Errors: every failure the user can cause is a steer::Error with a message that names the
// file, field or option, plus a hint. The CLI prints it as one `error: … (hint: …)` line.
#pragma once
#include <stdexcept>
#include <string>

namespace steer {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::string hint = "")
      : std::runtime_error(message), hint_(std::move(hint)) {}
  const std::string& hint() const { return hint_; }

 private:
  std::string hint_;
};

// Throws steer::Error. Use at boundaries: file formats, options, shapes.
[[noreturn]] inline void fail(const std::string& message, const std::string& hint = "") {
  throw Error(message, hint);
}

}  // namespace steer
