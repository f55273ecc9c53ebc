#include "ops/matfn/symeig.h"

#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "cuda/backend.h"
#include "ops/internal.h"
#include "tensor/parallel.h"

namespace dsvd {
namespace {

lapack_int syevd(float* a, float* w, lapack_int n) { return LAPACKE_ssyevd(LAPACK_COL_MAJOR, 'V', 'U', n, a, n, w); }
lapack_int syevd(double* a, double* w, lapack_int n) { return LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', n, a, n, w); }

}  // namespace

SymEig symeig_descending(const Tensor& sigma) {
  DSVD_CHECK(sigma.dim() == 3 && sigma.size(1) == sigma.size(2), "symeig: expects a batch of square matrices (B, n, n), "
             "got shape ", shape_str(sigma.sizes()));
  const int64_t batch = sigma.size(0), n = sigma.size(1);
  Tensor in = detail::contiguous_raw(sigma);
  if (detail::on_cuda(sigma)) {
    // cuSOLVER (ascending eigenvalues), then the |λ|-descending reorder on the device.
    const Device d = sigma.device();
    Tensor w = empty({batch, n}, sigma.dtype(), d), v = empty({batch, n, n}, sigma.dtype(), d);
    cuda::symeig(in, w, v);
    SymEig out{empty({batch, n}, sigma.dtype(), d), empty({batch, n, n}, sigma.dtype(), d)};
    cuda::sort_eigenpairs_by_magnitude(w, v, out.values, out.vectors);
    out.smallest = w.select(1, 0);  // a view (cuSOLVER's values ascend): no kernel on the hot path
    return out;
  }
  SymEig out{empty({batch, n}, sigma.dtype()), empty({batch, n, n}, sigma.dtype()), empty({batch}, sigma.dtype())};
  std::vector<std::string> errors(static_cast<size_t>(batch));
  DSVD_DISPATCH_FLOATING(sigma.dtype(), "symeig", [&] {
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

std::vector<std::pair<int64_t, double>> indefinite_samples(const Tensor& magnitudes, const Tensor& smallest_signed) {
  std::vector<std::pair<int64_t, double>> out;
  if (!smallest_signed.defined() || !magnitudes.defined() || magnitudes.numel() == 0) return out;
  const int64_t batch = magnitudes.size(0), n = magnitudes.size(1);
  const double eps = machine_epsilon(magnitudes.dtype());
  auto smallest = to_vector(smallest_signed);
  auto values = to_vector(magnitudes);  // descending: the first of each row is max|w|
  for (int64_t b = 0; b < batch; ++b)
    if (smallest[size_t(b)] < -double(n) * eps * values[size_t(b * n)]) out.emplace_back(b, smallest[size_t(b)]);
  return out;
}

}  // namespace dsvd
