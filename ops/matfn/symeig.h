// Symmetric eigendecomposition of a batch, as the SVD meta-layer uses it (docs/matrix-functions.md
// §4.1 step 1): for each symmetric Σ (B, n, n), the eigenvalues' absolute values |w| in
// descending order and the eigenvectors V (columns) permuted to match, so that
// Σ = V diag(±λ) Vᵀ. For a positive semi-definite Σ this equals the SVD the reference calls
// (s = |w| descending, V = W): tiny negative eigenvalues from rounding become tiny positive ones.
// CPU: LAPACK dsyevd / ssyevd (divide and conquer) through LAPACKE, one matrix per thread.
#pragma once
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace dsvd {

struct SymEig {
  Tensor values;    // (B, n), |w| descending
  Tensor vectors;   // (B, n, n), column k is the eigenvector of values[:, k]
  Tensor smallest;  // (B), the smallest signed eigenvalue w_min: negative beyond rounding means Σ is
                    // indefinite, and the reference's SVD silently uses |w| (see indefinite_samples)
};

// Samples whose smallest eigenvalue is negative beyond rounding: w_min < −n·ε·max|w| with ε the
// dtype's machine epsilon (a positive semi-definite Σ computed in floating point has negative
// eigenvalues of about that size). `magnitudes` (B, n) descending (SymEig::values, or the clamped
// values of a report), `smallest` (B) signed. Returns (sample, w_min) pairs; reads to the host.
std::vector<std::pair<int64_t, double>> indefinite_samples(const Tensor& magnitudes, const Tensor& smallest);

// Throws dsvd::Error naming the sample when the input holds NaN/Inf or LAPACK fails.
SymEig symeig_descending(const Tensor& sigma);

}  // namespace dsvd
