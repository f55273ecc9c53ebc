// dsvd::Error, the one exception type of the library, and DSVD_CHECK to raise it.
// Library code never exits or aborts on bad input: it throws with a message that names the op,
// the argument and the values at fault, so that the application decides what to do.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace dsvd {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Concatenates the parts with operator<< and throws dsvd::Error.
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw Error(message.str());
}

}  // namespace dsvd

#define DSVD_CHECK(condition, ...)       \
  do {                                   \
    if (!(condition)) ::dsvd::fail(__VA_ARGS__); \
  } while (0)
