// Symmetric eigendecomposition of a batch, as the SVD meta-layer uses it (docs/matrix-functions.md
// §4.1 step 1): for each symmetric Σ (B, n, n), the eigenvalues' absolute values |w| in
// descending order and the eigenvectors V (columns) permuted to match, so that
// Σ = V diag(±λ) Vᵀ. For a positive semi-definite Σ this equals the SVD the reference calls
// (s = |w| descending, V = W): tiny negative eigenvalues from rounding become tiny positive ones.
// CPU: LAPACK dsyevd / ssyevd (divide and conquer) through LAPACKE, one matrix per thread.
#pragma once
#include "tensor/tensor.h"

namespace dsvd {

struct SymEig {
  Tensor values;   // (B, n), |w| descending
  Tensor vectors;  // (B, n, n), column k is the eigenvector of values[:, k]
};

// Throws dsvd::Error naming the sample when the input holds NaN/Inf or LAPACK fails.
SymEig symeig_descending(const Tensor& sigma);

}  // namespace dsvd
