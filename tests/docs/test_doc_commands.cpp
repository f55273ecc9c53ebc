// The commands of the tutorial and of the auditing guide run as written, each in under a minute,
// and print what the docs show. In docs/matrix-function-gradients.md and docs/auditing.md:
//   ```sh blocks      run as one bash script in a fresh folder; it must exit 0 within 60 s;
//   ``` blocks whose first line is "$ COMMAND": COMMAND runs, and its first lines of output must
//                     be the block's other lines: text equal, numbers equal to the printed digits
//                     (relative 1e-3, or within 1e-12), a table's last column skipped when its
//                     header names it time_ms (timings vary from run to run). A transcript after
//                     the comment <!-- doc-test: layout --> is compared by its text only (numbers
//                     must be numbers): its values hang on rounding in the eigensolver.
// `build/apps/` in a command is where this build's programs are, `tools/` the repository's.
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace {

fs::path repo_root() { return fs::path(dsvd::test::repo_root()); }
// Where the programs are: build/apps/ here, the bundle's bin/ on a machine the build was carried to.
fs::path apps_dir() { return fs::path(dsvd::test::svd_lab_program()).parent_path(); }

struct Block {
  std::string info;                 // "sh" or ""
  std::vector<std::string> lines;
  size_t line_number = 0;           // of the opening fence
  bool layout_only = false;         // preceded by <!-- doc-test: layout -->
};

std::vector<Block> code_blocks(const fs::path& doc) {
  std::ifstream in(doc);
  std::vector<Block> blocks;
  std::string line, previous;
  size_t n = 0;
  bool inside = false;
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("```", 0) == 0) {
      if (!inside) blocks.push_back({line.substr(3), {}, n, previous.find("<!-- doc-test: layout -->") != std::string::npos});
      inside = !inside;
    } else if (inside) {
      blocks.back().lines.push_back(line);
    }
    if (!line.empty()) previous = line;
  }
  return blocks;
}

std::string with_paths(const std::string& script) {
  static const std::regex build(R"((^|[\s;(|&])build/apps/)"), tools(R"((^|[\s;(|&])tools/)");
  std::string s = std::regex_replace(script, build, "$1" + apps_dir().string() + "/");
  return std::regex_replace(s, tools, "$1" + (repo_root() / "tools").string() + "/");
}

struct Result {
  int status = -1;
  double seconds = 0;
  std::string output;
};

Result run_in(const fs::path& dir, const std::string& script) {
  const fs::path file = dir / "script.sh", log = dir / "output.txt";
  std::ofstream(file) << "set -e -o pipefail\n" << script << "\n";
  const std::string command = "cd '" + dir.string() + "' && timeout 60 bash '" + file.string() + "' > '" +
                              log.string() + "' 2>&1";
  const auto t0 = std::chrono::steady_clock::now();
  const int raw = std::system(command.c_str());
  Result r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::ifstream in(log);
  r.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return r;
}

std::vector<std::string> tokens(const std::string& line) {
  std::stringstream s(line);
  std::vector<std::string> out;
  for (std::string t; s >> t;) out.push_back(t);
  return out;
}

bool same_token(const std::string& shown, const std::string& got, bool layout_only) {
  if (shown == got) return true;
  char* end_a = nullptr;
  char* end_b = nullptr;
  const double a = std::strtod(shown.c_str(), &end_a), b = std::strtod(got.c_str(), &end_b);
  if (*end_a != '\0' || *end_b != '\0' || end_a == shown.c_str() || end_b == got.c_str()) return false;
  return layout_only || std::fabs(a - b) <= 1e-3 * std::max(std::fabs(a), std::fabs(b)) + 1e-12;
}

// The shown lines against the first lines of the output; "" when they agree, else why not.
std::string mismatch(const std::vector<std::string>& shown, const std::string& output, bool layout_only) {
  std::vector<std::string> got;
  std::stringstream s(output);
  for (std::string line; std::getline(s, line);) got.push_back(line);
  bool skip_last = false;
  for (size_t i = 0; i < shown.size(); ++i) {
    if (i >= got.size()) return "the output ends before shown line " + std::to_string(i + 1) + ": " + shown[i];
    auto a = tokens(shown[i]), b = tokens(got[i]);
    if (a.empty()) skip_last = false;  // a blank line ends a table
    if (!a.empty() && a.back() == "time_ms") skip_last = true;
    else if (skip_last && !a.empty() && !b.empty()) a.pop_back(), b.pop_back();
    bool equal = a.size() == b.size();
    for (size_t k = 0; equal && k < a.size(); ++k) equal = same_token(a[k], b[k], layout_only);
    if (!equal) return "line " + std::to_string(i + 1) + " shown as\n  " + shown[i] + "\nprinted as\n  " + got[i];
  }
  return "";
}

void check_doc(const std::string& name) {
  const fs::path doc = repo_root() / "docs" / name;
  int checked = 0;
  for (const Block& b : code_blocks(doc)) {
    const bool script = b.info == "sh";
    const bool transcript = b.info.empty() && !b.lines.empty() && b.lines[0].rfind("$ ", 0) == 0;
    if (!script && !transcript) continue;
    CAPTURE(name + ":" + std::to_string(b.line_number));
    const fs::path dir = fs::temp_directory_path() / ("dsvd_doc_" + std::to_string(::getpid()) + "_" + std::to_string(b.line_number));
    fs::create_directories(dir);
    std::string text;
    if (script)
      for (const auto& l : b.lines) text += l + "\n";
    else
      text = b.lines[0].substr(2);
    Result r = run_in(dir, with_paths(text));
    CAPTURE(r.output.substr(0, 3000));
    CHECK(r.status == 0);
    CHECK(r.seconds < 60);
    if (transcript) {
      const std::string why =
          mismatch(std::vector<std::string>(b.lines.begin() + 1, b.lines.end()), r.output, b.layout_only);
      CHECK_MESSAGE(why.empty(), why);
    }
    fs::remove_all(dir);
    ++checked;
  }
  CHECK(checked > 0);
}

}  // namespace

TEST_CASE("docs: the tutorial's commands run as written and print what it shows") {
  check_doc("matrix-function-gradients.md");
}

TEST_CASE("docs: the auditing guide's commands run as written, each in under a minute") {
  check_doc("auditing.md");
}
