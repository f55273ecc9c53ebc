// Shared helpers for the doctest suites: closeness checks that name the worst element, and a
// gradcheck assertion that prints gradcheck's report on failure.
#pragma once
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "ops/gradcheck.h"
#include "autograd/node.h"
#include "tensor/random.h"
#include "ops/ops.h"

namespace dsvd::test {

// The committed fixtures folder: the source tree's, unless DSVD_FIXTURES_DIR names another (a
// build carried to a machine where the tree lives elsewhere, as tools/gpu-check does).
inline std::string fixture_path(const std::string& name) {
  const char* env = std::getenv("DSVD_FIXTURES_DIR");
  return std::string(env && *env ? env : DSVD_FIXTURES_DIR) + "/" + name;
}

// The repository the tests were built from (the fixtures folder's grandparent).
inline std::string repo_root() {
  const char* env = std::getenv("DSVD_FIXTURES_DIR");
  std::string fixtures = env && *env ? env : DSVD_FIXTURES_DIR;
  while (!fixtures.empty() && fixtures.back() == '/') fixtures.pop_back();
  for (int up = 0; up < 2; ++up) fixtures = fixtures.substr(0, fixtures.rfind('/'));
  return fixtures;
}

// The programs the end-to-end tests run: this build's, unless the environment names others (a
// build carried to another machine, as tools/gpu-check does).
inline std::string program_path(const char* env_name, const char* built) {
  const char* env = std::getenv(env_name);
  return env && *env ? env : built;
}
inline std::string train_imagenet_program() { return program_path("DSVD_TRAIN_IMAGENET", DSVD_TRAIN_IMAGENET); }
inline std::string svd_lab_program() { return program_path("DSVD_SVD_LAB", DSVD_SVD_LAB); }
inline std::string convert_weights_program() { return program_path("DSVD_CONVERT_WEIGHTS", DSVD_CONVERT_WEIGHTS); }

// The environment of a test that starts `mpirun`: one thread per rank, root allowed (CI runs as
// root), and no leak check in the ranks under a sanitizer build (OpenMPI keeps allocations of its
// own until exit, which LeakSanitizer would report as the test's).
inline const std::string kMpiEnvironment =
    "OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
    "ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 ";

// The bytes of a committed fixture file (fails the test when it cannot be read).
inline std::string read_fixture(const std::string& name) {
  std::ifstream in(fixture_path(name), std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read fixture " << fixture_path(name));
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The function type gradcheck takes, for tests that write lambdas inline.
using Fn = DifferentiableFn;

// Empty string when every |actual - expected| <= atol + rtol*|expected| (NaN matches NaN);
// otherwise the worst element, its index and both values.
inline std::string compare_values(const std::vector<double>& actual, const std::vector<double>& expected,
                                  double atol, double rtol) {
  if (actual.size() != expected.size())
    return "size mismatch: " + std::to_string(actual.size()) + " vs " + std::to_string(expected.size());
  double worst = 0;
  size_t at = 0;
  bool bad = false;
  for (size_t i = 0; i < actual.size(); ++i) {
    double a = actual[i], e = expected[i];
    if (std::isnan(a) && std::isnan(e)) continue;
    if (a == e) continue;  // also equal infinities
    double err = std::fabs(a - e);
    double excess = std::isfinite(err) ? err / (atol + rtol * std::fabs(e)) : INFINITY;
    if (excess > 1 && (!bad || excess > worst)) {
      bad = true;
      worst = excess;
      at = i;
    }
  }
  if (!bad) return "";
  std::ostringstream s;
  s.precision(17);
  s << "element " << at << ": got " << actual[at] << ", expected " << expected[at];
  return s.str();
}

inline std::string compare(const Tensor& actual, const std::vector<double>& expected, double atol = 1e-12,
                           double rtol = 1e-12) {
  return compare_values(to_vector(actual), expected, atol, rtol);
}

inline std::string compare(const Tensor& actual, const Tensor& expected, double atol = 1e-12, double rtol = 1e-12) {
  if (actual.sizes() != expected.sizes())
    return "shape " + shape_str(actual.sizes()) + " vs expected " + shape_str(expected.sizes());
  return compare_values(to_vector(actual), to_vector(expected), atol, rtol);
}

// What the code under test prints on stdout while this object lives (a temporary file stands in
// for the descriptor); text() restores stdout and returns it.
class CapturedStdout {
 public:
  CapturedStdout() {
    std::fflush(stdout);
    saved_ = dup(fileno(stdout));
    file_ = std::tmpfile();
    dup2(fileno(file_), fileno(stdout));
  }
  ~CapturedStdout() { text(); }
  std::string text() {
    if (saved_ < 0) return text_;
    std::fflush(stdout);
    dup2(saved_, fileno(stdout));
    close(saved_);
    saved_ = -1;
    std::rewind(file_);
    for (int c; (c = std::fgetc(file_)) != EOF;) text_.push_back(char(c));
    std::fclose(file_);
    return text_;
  }

 private:
  int saved_ = -1;
  std::FILE* file_ = nullptr;
  std::string text_;
};

}  // namespace dsvd::test

// CHECK_CLOSE(actual, expected[, atol, rtol]): passes when compare() finds nothing.
#define CHECK_CLOSE(...)                                          \
  do {                                                            \
    std::string dsvd_diff_ = ::dsvd::test::compare(__VA_ARGS__);  \
    CHECK_MESSAGE(dsvd_diff_.empty(), dsvd_diff_);                \
  } while (0)

#define CHECK_GRADCHECK(fn, inputs, ...)                                         \
  do {                                                                           \
    auto dsvd_gc_ = ::dsvd::gradcheck(fn, inputs __VA_OPT__(, ) __VA_ARGS__);    \
    CHECK_MESSAGE(dsvd_gc_.ok, dsvd_gc_.message);                                \
    CHECK(dsvd_gc_.checked > 0);                                                 \
  } while (0)
