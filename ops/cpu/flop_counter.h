// A process-wide count of the floating-point operations done by GEMMs (matmul and convolution),
// 2 per multiply-add, so benchmarks can report the FLOP/s a training step achieves.
#pragma once
#include <atomic>
#include <cstdint>

namespace dsvd::cpu {

inline std::atomic<uint64_t>& gemm_flop_counter() {
  static std::atomic<uint64_t> counter{0};
  return counter;
}

inline void count_gemm(int64_t m, int64_t n, int64_t k) {
  gemm_flop_counter().fetch_add(uint64_t(2) * uint64_t(m) * uint64_t(n) * uint64_t(k), std::memory_order_relaxed);
}

}  // namespace dsvd::cpu
