// The CPU kernel of the |λ|-descending symmetric eigendecomposition (ops/kernels/linalg.h,
// ops/matfn/symeig.h): LAPACK dsyevd / ssyevd (divide and conquer) through LAPACKE, one matrix
// per thread.
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"
#include "tensor/parallel.h"

namespace dsvd::cpu {
namespace {

lapack_int syevd(float* a, float* w, lapack_int n) { return LAPACKE_ssyevd(LAPACK_COL_MAJOR, 'V', 'U', n, a, n, w); }
lapack_int syevd(double* a, double* w, lapack_int n) { return LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', n, a, n, w); }

SymEig symeig_descending(const Tensor& in) {
  const int64_t batch = in.size(0), n = in.size(1);
  SymEig out{empty({batch, n}, in.dtype()), empty({batch, n, n}, in.dtype()), empty({batch}, in.dtype())};
  std::vector<std::string> errors(static_cast<size_t>(batch));
  DSVD_DISPATCH_FLOATING(in.dtype(), "symeig", [&] {
    const scalar_t* src = in.data<scalar_t>();
    scalar_t* values = out.values.data<scalar_t>();
    scalar_t* vectors = out.vectors.data<scalar_t>();
    scalar_t* smallest = out.smallest.data<scalar_t>();
    parallel_for(0, batch, batch > 1, [&](int64_t b) {
      const scalar_t* s = src + b * n * n;
      for (int64_t i = 0; i < n * n; ++i)
        if (!std::isfinite(s[i])) {
          errors[size_t(b)] = "symeig: sample " + std::to_string(b) + " holds NaN or Inf";
          return;
        }
      // Column-major LAPACK on the row-major buffer reads the transpose, which for a symmetric
      // matrix is the matrix itself; eigenvector k comes back contiguous at a[k*n ...].
      std::vector<scalar_t> a(s, s + n * n), w(static_cast<size_t>(n));
      lapack_int info = syevd(a.data(), w.data(), lapack_int(n));
      if (info != 0) {
        errors[size_t(b)] = "symeig: LAPACK syevd failed for sample " + std::to_string(b) + " (info " +
                            std::to_string(info) + (info > 0 ? ": did not converge)" : ": bad argument)");
        return;
      }
      smallest[b] = n > 0 ? w[0] : scalar_t(0);  // LAPACK's values ascend
      std::vector<int64_t> order(static_cast<size_t>(n));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
        return std::fabs(w[size_t(x)]) > std::fabs(w[size_t(y)]);
      });
      for (int64_t col = 0; col < n; ++col) {
        int64_t k = order[size_t(col)];
        values[b * n + col] = std::fabs(w[size_t(k)]);
        for (int64_t row = 0; row < n; ++row) vectors[(b * n + row) * n + col] = a[size_t(k * n + row)];
      }
    });
  });
  for (const auto& e : errors) DSVD_CHECK(e.empty(), e);
  return out;
}

}  // namespace

DSVD_REGISTER_KERNEL(kernels::SymeigDescendingKernel, CPU, symeig_descending);

}  // namespace dsvd::cpu
