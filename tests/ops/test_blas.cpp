// The BLAS dsvd runs on: the start-up hook must have chosen a vector core where the CPU has one,
// and the summary must say which.
#include "ops/cpu/blas_runtime.h"
#include "tests/test_util.h"

using namespace dsvd;

TEST_CASE("blas: the active core is the one requested, and never the SSE3 fallback on an AVX2 CPU") {
  BlasInfo info = blas_info();
  MESSAGE(blas_summary());
  CHECK(!info.core.empty());
  CHECK(info.library.find("OpenBLAS") != std::string::npos);
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && !info.requested.empty()) {
    std::string core = info.core, requested = info.requested;
    for (auto& c : core) c = char(std::tolower(c));
    for (auto& c : requested) c = char(std::tolower(c));
    CHECK(core == requested);
    CHECK(core != "prescott");
  }
  CHECK(blas_summary().find(info.core) != std::string::npos);
}
