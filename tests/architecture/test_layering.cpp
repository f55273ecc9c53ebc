// The core's layers (docs/architecture.md): a folder includes only the folders below it, and no
// op file, module or app branches on the device: devices are reached through the kernel table.
// Both rules are checked on the source tree, so that a change that breaks one fails here.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace {

// What each library folder may include (its own folder included).
const std::map<std::string, std::set<std::string>> kAllowed = {
    {"tensor", {"tensor"}},
    {"autograd", {"tensor", "autograd"}},
    {"ops", {"tensor", "autograd", "ops"}},
    {"cuda", {"tensor", "autograd", "ops", "cuda"}},
    {"datasets", {"tensor", "datasets"}},
    {"serialization", {"tensor", "serialization"}},
    {"nn", {"tensor", "autograd", "ops", "serialization", "nn"}},
    {"distributed", {"tensor", "autograd", "ops", "serialization", "nn", "distributed"}},
    {"apps", {"tensor", "autograd", "ops", "datasets", "serialization", "nn", "distributed", "apps"}},
};

bool source_file(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".cpp" || ext == ".h" || ext == ".cu";
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "file:line: message" for every include of a folder that `folder` may not include.
std::vector<std::string> layering_violations(const fs::path& root, const std::string& folder) {
  std::vector<std::string> out;
  const std::regex include(R"(^\s*#\s*include\s+"([a-z_]+)/)");
  for (const auto& e : fs::recursive_directory_iterator(root / folder)) {
    if (!e.is_regular_file() || !source_file(e.path())) continue;
    std::istringstream lines(read(e.path()));
    std::string line;
    for (int n = 1; std::getline(lines, line); ++n) {
      std::smatch m;
      if (std::regex_search(line, m, include) && !kAllowed.at(folder).count(m[1].str()))
        out.push_back(fs::relative(e.path(), root).string() + ":" + std::to_string(n) + ": " + folder +
                      "/ includes " + m[1].str() + "/");
    }
  }
  return out;
}

}  // namespace

TEST_CASE("architecture: every folder includes only the layers below it") {
  const fs::path root = dsvd::test::repo_root();
  std::vector<std::string> problems;
  for (const auto& [folder, allowed] : kAllowed) {
    auto v = layering_violations(root, folder);
    problems.insert(problems.end(), v.begin(), v.end());
  }
  for (const auto& p : problems) MESSAGE(p);
  CHECK(problems.empty());
}

TEST_CASE("architecture: no device branch in op files, modules or apps") {
  const fs::path root = dsvd::test::repo_root();
  // Kernel choices by device belong to the kernel table; a query of how many devices exist
  // (device_count) is not a branch and is allowed.
  const std::regex branch(R"(is_cuda\(\)|on_cuda\(|\bcuda::)");
  std::vector<std::string> problems;
  auto scan = [&](const fs::path& p) {
    std::istringstream lines(read(p));
    std::string line;
    for (int n = 1; std::getline(lines, line); ++n)
      if (std::regex_search(line, branch)) problems.push_back(fs::relative(p, root).string() + ":" + std::to_string(n));
  };
  for (const auto& e : fs::directory_iterator(root / "ops"))  // the op files, not ops/cpu's kernels
    if (e.is_regular_file() && source_file(e.path())) scan(e.path());
  for (const char* folder : {"ops/matfn", "nn", "apps"})
    for (const auto& e : fs::recursive_directory_iterator(root / folder))
      if (e.is_regular_file() && source_file(e.path())) scan(e.path());
  for (const auto& p : problems) MESSAGE("device branch at " << p);
  CHECK(problems.empty());
}

TEST_CASE("architecture: the checks find a violation when there is one") {
  // The include pattern of the first check, on lines that break and keep the rules.
  const std::regex include(R"(^\s*#\s*include\s+"([a-z_]+)/)");
  std::smatch m;
  const std::string bad = "#include \"cuda/internal.h\"", good = "#include <vector>";
  REQUIRE(std::regex_search(bad, m, include));
  CHECK(!kAllowed.at("nn").count(m[1].str()));
  CHECK(!std::regex_search(good, m, include));
}
