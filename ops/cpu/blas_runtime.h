// Which BLAS runs dsvd's GEMMs, and how its kernel core was chosen.
//
// OpenBLAS picks its kernels ("core") once, when it initialises, from the CPU id or from the
// environment variable OPENBLAS_CORETYPE. Debian's OpenBLAS 0.3.21 does not know recent CPUs and
// may fall back to its SSE3 'Prescott' kernels, several times slower (README.md, "The BLAS
// core"). dsvd links OpenBLAS statically and runs a start-up hook before OpenBLAS's initialiser
// that, in this order:
//   1. DSVD_BLAS_CORE set          -> use that core (OPENBLAS_CORETYPE is overwritten);
//   2. the best core for the CPU's features: AVX-512 F/BW/DQ/VL -> SkylakeX, AVX2+FMA -> Haswell;
//      an OPENBLAS_CORETYPE at least as capable is respected, one that asks for less is
//      overridden (and the start-up line says so);
//   3. no AVX2: OPENBLAS_CORETYPE if set, else OpenBLAS's own detection.
// blas_info() reports what was requested, why, and what OpenBLAS actually runs; every app prints
// it at start-up.
#pragma once
#include <string>

namespace dsvd {

struct BlasInfo {
  std::string library;    // "OpenBLAS 0.3.21 ..." (openblas_get_config)
  std::string core;       // the kernel core OpenBLAS runs (openblas_get_corename)
  std::string requested;  // the core dsvd asked for ("" if it left the choice to OpenBLAS)
  std::string reason;     // why
  int threads = 1;
  bool linked_statically = false;
};

BlasInfo blas_info();
std::string blas_summary();  // one line for start-up banners and benchmarks
void set_blas_threads(int threads);

}  // namespace dsvd
