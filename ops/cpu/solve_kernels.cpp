// The CPU kernel of solve (ops/kernels/linalg.h): LAPACK gesv (LU with partial pivoting) per
// matrix, one matrix per thread.
#include <lapacke.h>

#include <string>
#include <vector>

#include "ops/cpu/copy_kernel.h"
#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"
#include "tensor/parallel.h"

namespace dsvd::cpu {
namespace {

lapack_int gesv(int n, int m, float* a, lapack_int* pivots, float* b) {
  return LAPACKE_sgesv(LAPACK_ROW_MAJOR, n, m, a, n, pivots, b, m);
}
lapack_int gesv(int n, int m, double* a, lapack_int* pivots, double* b) {
  return LAPACKE_dgesv(LAPACK_ROW_MAJOR, n, m, a, n, pivots, b, m);
}

}  // namespace

void batched_solve(const Tensor& a, const Tensor& b, const Tensor& out) {
  const int64_t batch = a.size(0), n = a.size(1), m = b.size(2);
  Tensor lu = a.clone();  // gesv overwrites A with its LU factors and B with X
  copy_into(out, b);
  std::vector<std::string> errors(static_cast<size_t>(batch));
  DSVD_DISPATCH_FLOATING(a.dtype(), "solve", [&] {
    scalar_t* pa = lu.data<scalar_t>();
    scalar_t* px = out.data<scalar_t>();
    parallel_for(0, batch, batch > 1, [&](int64_t s) {
      std::vector<lapack_int> pivots(static_cast<size_t>(n));
      const lapack_int info = gesv(int(n), int(m), pa + s * n * n, pivots.data(), px + s * n * m);
      if (info > 0) errors[size_t(s)] = "solve: the matrix of sample " + std::to_string(s) + " is singular (U(" +
                                        std::to_string(info) + ", " + std::to_string(info) + ") = 0)";
      else if (info < 0) errors[size_t(s)] = "solve: LAPACK gesv rejected argument " + std::to_string(-info);
    });
  });
  for (const auto& e : errors) DSVD_CHECK(e.empty(), e);
}

DSVD_REGISTER_KERNEL(kernels::BatchedSolveKernel, CPU, batched_solve);


}  // namespace dsvd::cpu
