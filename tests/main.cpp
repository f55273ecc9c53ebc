// The test runner: doctest, plus a closing line that CI reads, "N passed, M failed, K skipped",
// built from doctest's own counts of test cases (a listener receives them at the end of the run).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "tensor/device_backend.h"
#include "ops/cpu/blas_runtime.h"

namespace {

struct RunCounts {
  unsigned total = 0, passing_filters = 0, failed = 0;
  bool seen = false;
};
RunCounts counts;

struct CountingListener : doctest::IReporter {
  explicit CountingListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    counts = {stats.numTestCases, stats.numTestCasesPassingFilters, stats.numTestCasesFailed, true};
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("dsvd-counts", 1, CountingListener);

}  // namespace

int main(int argc, char** argv) {
  std::printf("%s\n%s\n", dsvd::blas_summary().c_str(), dsvd::device_summary(dsvd::Device::Kind::CUDA).c_str());
  std::string why;
  if (dsvd::device_count(dsvd::Device::Kind::CUDA, &why) == 0)
    std::printf("CUDA tests: SKIPPED (no CUDA device: %s)\n", why.c_str());
  doctest::Context context(argc, argv);
  int status = context.run();
  if (context.shouldExit() || !counts.seen) return status;
  unsigned passed = counts.passing_filters - counts.failed;
  unsigned skipped = counts.total - counts.passing_filters;
  std::printf("%u passed, %u failed, %u skipped\n", passed, counts.failed, skipped);
  return status;
}
