#include "ops/cpu/gemm.h"

#include <cstring>
#include <omp.h>

#include "ops/cpu/copy_kernel.h"
#include "ops/cpu/blas.h"
#include "tensor/parallel.h"

namespace dsvd::cpu {
namespace {

struct BlasOperand {
  Tensor storage_owner;  // the tensor whose data we point at (a copy when the layout needed one)
  bool transposed;
  int64_t ld;
  int64_t batch_stride;
};

// How the (batch, rows, cols) view `t` can be handed to BLAS.
BlasOperand as_blas_operand(const Tensor& t) {
  int64_t rows = t.size(1), cols = t.size(2), rs = t.stride(1), cs = t.stride(2);
  if ((cs == 1 || cols == 1) && (rs >= std::max<int64_t>(1, cols) || rows == 1))
    return {t, false, std::max<int64_t>(rows == 1 ? cols : rs, std::max<int64_t>(1, cols)), t.stride(0)};
  if ((rs == 1 || rows == 1) && (cs >= std::max<int64_t>(1, rows) || cols == 1))
    return {t, true, std::max<int64_t>(cols == 1 ? rows : cs, std::max<int64_t>(1, rows)), t.stride(0)};
  Tensor copy = empty(t.sizes(), t.dtype());
  copy_into(copy, t);
  return {copy, false, std::max<int64_t>(1, cols), rows * cols};
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
  BlasOperand oa = as_blas_operand(a), ob = as_blas_operand(b);
  DSVD_DISPATCH_FLOATING(out.dtype(), "matmul", [&] {
    const auto* pa = static_cast<const scalar_t*>(oa.storage_owner.data_ptr());
    const auto* pb = static_cast<const scalar_t*>(ob.storage_owner.data_ptr());
    auto* pc = static_cast<scalar_t*>(out.data_ptr());
    // Many small products: one per thread (OpenBLAS runs single-threaded inside a parallel
    // region). Few large ones: one after another, each using all of BLAS's threads.
    const bool small = m * n * k < 128 * 128 * 128;
    parallel_for(0, batch, small, [&](int64_t i) {
      blas_gemm<scalar_t>(oa.transposed, ob.transposed, m, n, k, 1, pa + i * oa.batch_stride, oa.ld,
                          pb + i * ob.batch_stride, ob.ld, 0, pc + i * m * n, std::max<int64_t>(1, n));
    });
  });
}

}  // namespace dsvd::cpu

#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"

namespace dsvd::cpu {
DSVD_REGISTER_KERNEL(kernels::BatchedGemmKernel, CPU, batched_gemm);
}  // namespace dsvd::cpu
