// Every document that a comment, help text, script or doc names must exist in the repository, and
// every section it cites (§N, §N.M, §N item K) must exist in that document. A § with no document
// before it on its line refers, in a Markdown file, to that file, and elsewhere to the document
// the file named last before that line.
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace {

fs::path repo_root() { return fs::path(dsvd::test::repo_root()); }

bool scanned(const fs::path& p, const fs::path& root) {
  const std::string rel = fs::relative(p, root).generic_string();
  for (const char* skip : {"build", ".git", "gpu-bundle", "runs", "fuzz/corpus", "tests/fixtures", "__pycache__",
                           "subprojects"})
    if (rel.rfind(skip, 0) == 0) return false;
  if (p.filename() == "test_doc_references.cpp") return false;  // its examples are broken on purpose
  const std::string ext = p.extension().string();
  static const std::set<std::string> text = {".cpp", ".h", ".cu", ".cuh", ".md", ".py", ".build", ".txt", ".sh"};
  if (text.count(ext)) return true;
  return p.filename() == "meson.build" || rel.rfind("tools/", 0) == 0 || rel.rfind(".ci/", 0) == 0;
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A named document resolved against the naming file's folder, docs/, the root and benchmarks/;
// only a file inside the repository counts (a path that climbs out of it does not).
std::optional<fs::path> resolve(const std::string& name, const fs::path& from, const fs::path& root) {
  const std::string inside = fs::canonical(root).generic_string() + "/";
  std::vector<fs::path> candidates = {from.parent_path() / name, root / name};
  if (name.find('/') == std::string::npos) {
    candidates.push_back(root / "docs" / name);
    candidates.push_back(root / "benchmarks" / name);
  }
  for (const auto& c : candidates)
    if (fs::is_regular_file(c) && fs::canonical(c).generic_string().rfind(inside, 0) == 0) return fs::canonical(c);
  return std::nullopt;
}

// The headings of a Markdown document ("## 4. Title", "### 4.3 Title") and the numbered items
// ("7. text") under each top-level section.
struct Sections {
  std::set<std::string> numbers;
  std::map<std::string, std::set<std::string>> items;
};

Sections sections_of(const fs::path& doc) {
  static std::map<fs::path, Sections> cache;
  if (auto it = cache.find(doc); it != cache.end()) return it->second;
  static const std::regex heading(R"(^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s)");
  static const std::regex item(R"(^\s*(\d+)\.\s)");
  Sections s;
  std::string current;
  for (const auto& line : lines_of(doc)) {
    std::smatch m;
    if (std::regex_search(line, m, heading)) {
      s.numbers.insert(m[1]);
      const std::string top = m[1].str().substr(0, m[1].str().find('.'));
      if (m[1].str().find('.') == std::string::npos) current = top;
    } else if (!current.empty() && std::regex_search(line, m, item)) {
      s.items[current].insert(m[1]);
    }
  }
  return cache[doc] = s;
}

// Problems found under `root`, one line each: "file:line: what is wrong".
std::vector<std::string> broken_references(const fs::path& root) {
  static const std::regex doc_name(R"(([A-Za-z0-9_.\-/]*[A-Za-z0-9_\-]+\.md)\b)");
  static const std::regex section(R"(§\s?(\d+(?:\.\d+)?)((?:\s*[–-]\s*§?\s?\d+(?:\.\d+)?)?)((?:\s+items?\s+\d+(?:\s*(?:,|and|–|-)\s*\d+)*)?))");
  static const std::regex number(R"(\d+(?:\.\d+)?)");
  std::vector<std::string> problems;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path p = it->path();
    if (it->is_directory()) {
      if (!scanned(p / "x.cpp", root)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || !scanned(p, root)) continue;
    const bool markdown = p.extension() == ".md";
    std::optional<fs::path> last_named;  // the document named last, for bare § in code files
    auto lines = lines_of(p);
    for (size_t ln = 0; ln < lines.size(); ++ln) {
      const std::string& line = lines[ln];
      const std::string where = fs::relative(p, root).generic_string() + ":" + std::to_string(ln + 1) + ": ";
      // Documents named on this line, by position.
      std::vector<std::pair<size_t, std::optional<fs::path>>> named;
      for (std::sregex_iterator m(line.begin(), line.end(), doc_name), end; m != end; ++m) {
        const std::string name = (*m)[1];
        const size_t pos = size_t(m->position(0));
        if (pos >= 3 && line.compare(pos - 3, 3, "://") == 0) continue;  // a URL
        if (line.find("://") != std::string::npos && line.find("://") < pos &&
            line.find(' ', line.find("://")) > pos)
          continue;  // part of a URL
        auto doc = resolve(name, p, root);
        if (!doc) problems.push_back(where + "names " + name + ", which does not exist");
        named.emplace_back(pos, doc);
      }
      for (std::sregex_iterator m(line.begin(), line.end(), section), end; m != end; ++m) {
        const size_t pos = size_t(m->position(0));
        std::optional<fs::path> doc;
        bool found_on_line = false;
        for (const auto& [at, d] : named)
          if (at < pos) doc = d, found_on_line = true;
        if (!found_on_line) doc = markdown ? std::optional<fs::path>(fs::canonical(p)) : last_named;
        if (!doc) {
          if (!found_on_line && !markdown && !last_named)
            problems.push_back(where + "cites " + (*m)[0].str() + " without naming a document before it");
          continue;  // an unresolvable name is reported above
        }
        Sections s = sections_of(*doc);
        const std::string docname = fs::relative(*doc, root).generic_string();
        std::vector<std::string> cited;
        const std::string head = (*m)[1].str() + (*m)[2].str();
        for (std::sregex_iterator n(head.begin(), head.end(), number), e; n != e; ++n) cited.push_back((*n)[0]);
        for (const auto& c : cited)
          if (!s.numbers.count(c)) problems.push_back(where + "cites §" + c + " of " + docname + ", which has no such section");
        const std::string items = (*m)[3];
        for (std::sregex_iterator n(items.begin(), items.end(), number), e; n != e; ++n)
          if (!s.items[cited[0]].count((*n)[0]))
            problems.push_back(where + "cites §" + cited[0] + " item " + (*n)[0].str() + " of " + docname +
                               ", which has no such item");
      }
      for (const auto& [at, d] : named)
        if (d) last_named = d;
    }
  }
  return problems;
}

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

}  // namespace

TEST_CASE("docs: every cited document and section exists") {
  auto problems = broken_references(repo_root());
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  CHECK_MESSAGE(problems.empty(), all);
}

TEST_CASE("docs: the reference check finds missing documents, sections and items") {
  const fs::path root = fs::temp_directory_path() / ("dsvd_doc_refs_" + std::to_string(::getpid()));
  write(root / "docs/spec.md", "# Spec\n## 1. One\n### 1.2 Sub\n## 8. Oracles\n1. first\n2. second\n");
  write(root / "ops/a.cpp", "// See docs/spec.md §1 and §1.2, §8 item 2.\n// Bare §8 resolves to spec.\n");
  write(root / "ops/b.cpp", "// See docs/gone" ".md.\n// spec" ".md §3, §8 items 1 and 5; §1.7\n// §2 here too\n");
  write(root / "ops/c.cpp", "// §4 with no document named\n");
  write(root / "outside.md", "# A file outside the tree\n");
  write(root / "tree/docs/d.md", "See ../../outside" ".md §1.\n");
  auto problems = broken_references(root);
  auto inner = broken_references(root / "tree");
  fs::remove_all(root);
  REQUIRE(inner.size() == 1);
  CHECK(inner[0] == "docs/d.md:1: names ../../outside.md, which does not exist");
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  CAPTURE(all);
  CHECK(problems.size() == 7);  // the six above, and the tree/ example seen from outside: outside.md has no §1
  CHECK(all.find("tree/docs/d.md:1: cites §1 of outside.md, which has no such section") != std::string::npos);
  CHECK(all.find("ops/b.cpp:1: names docs/gone.md, which does not exist") != std::string::npos);
  CHECK(all.find("ops/b.cpp:2: cites §3 of docs/spec.md, which has no such section") != std::string::npos);
  CHECK(all.find("ops/b.cpp:2: cites §8 item 5 of docs/spec.md") != std::string::npos);
  CHECK(all.find("ops/b.cpp:2: cites §1.7 of docs/spec.md") != std::string::npos);
  CHECK(all.find("ops/b.cpp:3: cites §2 of docs/spec.md") != std::string::npos);
  CHECK(all.find("ops/c.cpp:1: cites §4 without naming a document") != std::string::npos);
}
