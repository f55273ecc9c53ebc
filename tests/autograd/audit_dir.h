// A temporary audit directory for a test: audit mode on with `c` writing into it, off and removed
// at the end of the scope; lines() parses one of its JSON-lines files.
#pragma once
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "autograd/audit.h"
#include "nn/json.h"

namespace dsvd::testing {

struct AuditDir {
  std::filesystem::path path;
  explicit AuditDir(audit::Config c) {
    std::string t = (std::filesystem::temp_directory_path() / "dsvd_audit_XXXXXX").string();
    path = mkdtemp(t.data());
    c.dir = path.string();
    audit::enable(c);
  }
  ~AuditDir() {
    audit::disable();
    std::filesystem::remove_all(path);
  }
  AuditDir(const AuditDir&) = delete;
  AuditDir& operator=(const AuditDir&) = delete;
  std::vector<json::Value> lines(const std::string& file) const {
    std::ifstream in(path / "audit" / file);
    std::vector<json::Value> out;
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(json::parse(line, file));
    return out;
  }
};

}  // namespace dsvd::testing
