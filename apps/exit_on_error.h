// How every app ends on an error: one line "APP: error: MESSAGE" on stderr, exit code 2. A file
// system error (a folder that cannot be created, a file that cannot be written) names the
// operation's reason and the path, instead of escaping as an uncaught exception (abort, 134).
#pragma once
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

namespace dsvd {

inline std::string error_message(const std::exception& e) {
  if (const auto* f = dynamic_cast<const std::filesystem::filesystem_error*>(&e)) {
    std::string where = f->path1().string();
    if (!f->path2().empty()) where += "' and '" + f->path2().string();
    return "cannot use '" + where + "': " + f->code().message();
  }
  return e.what();
}

inline int exit_on_error(const char* app, const std::exception& e) {
  std::fprintf(stderr, "%s: error: %s\n", app, error_message(e).c_str());
  return 2;
}

}  // namespace dsvd
