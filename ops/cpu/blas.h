// The one BLAS call of the CPU kernels: C = α·op(A)·op(B) + β·C in row-major storage, float or
// double, counted in the GEMM FLOP counter (flop_counter.h). matmul (gemm.cpp) and the
// convolutions (conv2d_kernels.cpp) both go through it.
#pragma once
#include <cblas.h>

#include <type_traits>

#include "ops/cpu/flop_counter.h"

namespace dsvd::cpu {

template <typename T>
void blas_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
               const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "blas_gemm: float or double");
  count_gemm(m, n, k);
  const auto ta = transpose_a ? CblasTrans : CblasNoTrans, tb = transpose_b ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
  else
    cblas_dgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

}  // namespace dsvd::cpu
