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

TEST_CASE("blas: on an AVX-512 CPU the AVX-512 core runs unless DSVD_BLAS_CORE pins another") {
  __builtin_cpu_init();
  const char* forced = std::getenv("DSVD_BLAS_CORE");
  if (forced && *forced) return;
  BlasInfo info = blas_info();
  std::string core = info.core;
  for (auto& c : core) c = char(std::tolower(c));
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl")) {
    // also when the environment's OPENBLAS_CORETYPE asks for AVX2 (this project's machines do)
    CHECK(core == "skylakex");
    const char* env = std::getenv("OPENBLAS_CORETYPE");
    if (env && std::string(env) != "SkylakeX") CHECK(info.reason.find("overridden") != std::string::npos);
  }
}
