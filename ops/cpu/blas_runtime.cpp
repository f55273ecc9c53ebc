#include "ops/cpu/blas_runtime.h"

#include <cctype>
#include <cstdlib>
#include <string>
#include <sstream>

#include "dsvd_config.h"

extern "C" {
char* openblas_get_corename(void);
char* openblas_get_config(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
}

namespace dsvd {
namespace {

std::string& requested_core() {
  static std::string value;
  return value;
}
std::string& request_reason() {
  static std::string value;
  return value;
}

// How capable an OpenBLAS core is: 3 AVX-512 (SkylakeX and later), 2 AVX2+FMA, 1 AVX, 0 older.
int core_rank(std::string name) {
  for (auto& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (name == "skylakex" || name == "cooperlake" || name == "sapphirerapids") return 3;
  if (name == "haswell" || name == "zen") return 2;
  if (name == "sandybridge") return 1;
  return 0;
}

// Runs before OpenBLAS's own constructor: within one executable, prioritised constructors
// (.init_array.00101) run before the unprioritised ones that the static OpenBLAS registers.
// DSVD_BLAS_CORE decides if set. Otherwise the best core this CPU runs, unless
// OPENBLAS_CORETYPE names one at least as capable: an environment-wide OPENBLAS_CORETYPE that
// asks for less (AVX2 kernels on an AVX-512 CPU, set for other programs) would halve dsvd's GEMM
// speed, so dsvd takes the better core and says so; DSVD_BLAS_CORE pins any core.
__attribute__((constructor(101))) void choose_openblas_core() {
  const char* forced = std::getenv("DSVD_BLAS_CORE");
  const char* user = std::getenv("OPENBLAS_CORETYPE");
  if (forced && *forced) {
    setenv("OPENBLAS_CORETYPE", forced, 1);
    requested_core() = forced;
    request_reason() = "DSVD_BLAS_CORE";
    return;
  }
  std::string best, why;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    best = "SkylakeX";
    why = "CPU has AVX-512 F/BW/DQ/VL";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    best = "Haswell";
    why = "CPU has AVX2 and FMA";
  }
  if (user && *user && (best.empty() || core_rank(user) >= core_rank(best))) {
    requested_core() = user;
    request_reason() = "OPENBLAS_CORETYPE set in the environment";
    return;
  }
  if (best.empty()) {
    request_reason() = "no AVX2: OpenBLAS's own detection";
    return;
  }
  requested_core() = best;
  request_reason() = user && *user ? why + "; OPENBLAS_CORETYPE=" + user +
                                         " in the environment asks for less and is overridden (DSVD_BLAS_CORE pins a core)"
                                   : why;
  setenv("OPENBLAS_CORETYPE", best.c_str(), 1);
}

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

BlasInfo blas_info() {
  BlasInfo info;
  info.library = openblas_get_config();
  info.core = openblas_get_corename();
  info.requested = requested_core();
  info.reason = request_reason();
  info.threads = openblas_get_num_threads();
  info.linked_statically = DSVD_BLAS_STATIC;
  return info;
}

std::string blas_summary() {
  BlasInfo info = blas_info();
  std::ostringstream s;
  s << "BLAS: " << info.library << (info.linked_statically ? " (static)" : " (shared)") << "; core " << info.core
    << "; " << info.threads << " thread(s)";
  if (!info.requested.empty()) {
    s << "; requested " << info.requested << " (" << info.reason << ")";
    if (lower(info.requested) != lower(info.core))
      s << " -- WARNING: OpenBLAS runs " << info.core << " instead (it initialised before dsvd's start-up hook, "
        << "or does not know that core)";
  } else {
    s << "; " << info.reason;
  }
  return s.str();
}

void set_blas_threads(int threads) { openblas_set_num_threads(threads); }

}  // namespace dsvd
