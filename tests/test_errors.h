// The message of the steer::Error that f throws, or "" when it throws none — for tests that
// check an error names the file, field or numbers.
#pragma once
#include <functional>
#include <string>

#include "steer/error.h"

namespace steer::test {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace steer::test
