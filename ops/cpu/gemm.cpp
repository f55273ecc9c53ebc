#include "ops/cpu/gemm.h"

#include <cblas.h>
#include <cstring>
#include <omp.h>

#include "ops/cpu/copy_kernel.h"
#include "ops/cpu/flop_counter.h"
#include "tensor/parallel.h"

namespace dsvd::cpu {
namespace {

struct BlasOperand {
  Tensor storage_owner;  // the tensor whose data we point at (a copy when the layout needed one)
  CBLAS_TRANSPOSE trans;
  int64_t ld;
  int64_t batch_stride;
};

// How the (batch, rows, cols) view `t` can be handed to BLAS.
BlasOperand as_blas_operand(const Tensor& t) {
  int64_t rows = t.size(1), cols = t.size(2), rs = t.stride(1), cs = t.stride(2);
  if ((cs == 1 || cols == 1) && (rs >= std::max<int64_t>(1, cols) || rows == 1))
    return {t, CblasNoTrans, std::max<int64_t>(rows == 1 ? cols : rs, std::max<int64_t>(1, cols)), t.stride(0)};
  if ((rs == 1 || rows == 1) && (cs >= std::max<int64_t>(1, rows) || cols == 1))
    return {t, CblasTrans, std::max<int64_t>(cols == 1 ? rows : cs, std::max<int64_t>(1, rows)), t.stride(0)};
  Tensor copy = empty(t.sizes(), t.dtype());
  copy_into(copy, t);
  return {copy, CblasNoTrans, std::max<int64_t>(1, cols), rows * cols};
}

template <typename T>
void gemm_one(const BlasOperand& a, const BlasOperand& b, int64_t m, int64_t n, int64_t k, const T* pa,
              const T* pb, T* pc) {
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, a.trans, b.trans, int(m), int(n), int(k), 1.0f, pa, int(a.ld), pb, int(b.ld), 0.0f,
                pc, int(std::max<int64_t>(1, n)));
  } else {
    cblas_dgemm(CblasRowMajor, a.trans, b.trans, int(m), int(n), int(k), 1.0, pa, int(a.ld), pb, int(b.ld), 0.0,
                pc, int(std::max<int64_t>(1, n)));
  }
}

}  // namespace

void batched_gemm(const Tensor& a, const Tensor& b, const Tensor& out) {
  const int64_t batch = out.size(0), m = out.size(1), n = out.size(2), k = a.size(2);
  constexpr int64_t kIntMax = 2147483647;
  DSVD_CHECK(m <= kIntMax && n <= kIntMax && k <= kIntMax, "matmul: matrix dimensions (", m, ", ", k, ", ", n,
             ") exceed BLAS's 32-bit integer range");
  if (m == 0 || n == 0) return;
  if (k == 0) {
    std::memset(out.data_ptr(), 0, size_t(out.numel()) * itemsize(out.dtype()));
    return;
  }
  count_gemm(batch * m, n, k);
  BlasOperand oa = as_blas_operand(a), ob = as_blas_operand(b);
  DSVD_DISPATCH_FLOATING(out.dtype(), "matmul", [&] {
    const auto* pa = static_cast<const scalar_t*>(oa.storage_owner.data_ptr());
    const auto* pb = static_cast<const scalar_t*>(ob.storage_owner.data_ptr());
    auto* pc = static_cast<scalar_t*>(out.data_ptr());
    // Many small products: one per thread (OpenBLAS runs single-threaded inside a parallel
    // region). Few large ones: one after another, each using all of BLAS's threads.
    const bool small = m * n * k < 128 * 128 * 128;
    parallel_for(0, batch, small, [&](int64_t i) {
      gemm_one<scalar_t>(oa, ob, m, n, k, pa + i * oa.batch_stride, pb + i * ob.batch_stride, pc + i * m * n);
    });
  });
}

}  // namespace dsvd::cpu

#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"

namespace dsvd::cpu {
DSVD_REGISTER_KERNEL(kernels::BatchedGemmKernel, CPU, batched_gemm);
}  // namespace dsvd::cpu
