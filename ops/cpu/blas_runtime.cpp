#include "ops/cpu/blas_runtime.h"

#include <cstdlib>
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

// Runs before OpenBLAS's own constructor: within one executable, prioritised constructors
// (.init_array.00101) run before the unprioritised ones that the static OpenBLAS registers.
__attribute__((constructor(101))) void choose_openblas_core() {
  const char* forced = std::getenv("DSVD_BLAS_CORE");
  const char* user = std::getenv("OPENBLAS_CORETYPE");
  if (forced && *forced) {
    setenv("OPENBLAS_CORETYPE", forced, 1);
    requested_core() = forced;
    request_reason() = "DSVD_BLAS_CORE";
    return;
  }
  if (user && *user) {
    requested_core() = user;
    request_reason() = "OPENBLAS_CORETYPE set in the environment";
    return;
  }
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    requested_core() = "SkylakeX";
    request_reason() = "CPU has AVX-512 F/BW/DQ/VL";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    requested_core() = "Haswell";
    request_reason() = "CPU has AVX2 and FMA";
  } else {
    request_reason() = "no AVX2: OpenBLAS's own detection";
    return;
  }
  setenv("OPENBLAS_CORETYPE", requested_core().c_str(), 1);
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
