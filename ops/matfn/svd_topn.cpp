// SVD-TopN: keep the N largest eigenvalues (§5.3).
//
// Forward: the `drop` smallest of the descending eigenvalues (default 50, hard-coded in the
// reference, a parameter here) are set to eps64 before the clamp, so those directions get
// √eps64 ≈ 1.49e-8 in the output; N = n − drop are kept (206 for n = 256). With n <= drop every
// eigenvalue becomes eps64.
// Backward: exactly Original on the modified λ: the `drop` equal eigenvalues give +inf for all
// their pairs, which Φ₊ replaces by the batch-wide largest finite K̃.
#include "ops/matfn/k_rules.h"
#include "ops/ops.h"

namespace dsvd {

Tensor topn_eigenvalues(const Tensor& s, int drop) {
  DSVD_CHECK(s.dim() == 2, "topn_eigenvalues: expects (B, n), got shape ", shape_str(s.sizes()));
  DSVD_CHECK(drop >= 0, "topn: the number of eigenvalues to drop must be >= 0, got ", drop);
  const int64_t n = s.size(1), keep = std::max<int64_t>(0, n - drop);
  // mask_k = 1 for the kept (largest) positions 0..keep-1.
  Tensor kept = lt(arange(0.0, double(n), 1.0, s.dtype()).to(s.device()), double(keep));
  return where(kept, s, scalar_tensor(kEps64, s.dtype()));
}

}  // namespace dsvd
