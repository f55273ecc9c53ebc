// The apps' command-line parser (apps/cli.h): a misspelt option is "unknown", a known option
// without its value "needs a value", whatever the position.
#include "apps/cli.h"
#include "tests/test_util.h"

using namespace dsvd;

namespace {
CommandLine parse(std::vector<std::string> args) {
  args.insert(args.begin(), "prog");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return CommandLine(int(argv.size()), argv.data(), {"flag"});
}
}  // namespace

TEST_CASE("cli: an unknown last option is reported as unknown, a known one without value as missing") {
  CommandLine unknown = parse({"compare", "--rules", "pade", "--csv"});
  CHECK(unknown.get("rules") == "pade");
  CHECK_THROWS_WITH_AS(unknown.reject_unused(), doctest::Contains("unknown option --csv"), Error);

  CommandLine missing = parse({"compare", "--rules"});
  CHECK(missing.has("rules"));
  CHECK_THROWS_WITH_AS(missing.get("rules"), doctest::Contains("option --rules needs a value"), Error);

  CommandLine ok = parse({"x", "--a", "1", "--flag", "--b=2"});
  CHECK(ok.get("a") == "1");
  CHECK(ok.has("flag"));
  CHECK(ok.get("b") == "2");
  ok.reject_unused();
  CHECK_THROWS_WITH_AS(ok.get_int("a", 0) + parse({"--n", "x1"}).get_int("n", 0), doctest::Contains("expects an integer"), Error);
}
