// SVD-TopN: keep the N largest eigenvalues (docs/matrix-functions.md §5.3).
//
// Forward: the `drop` smallest of the descending eigenvalues (default 50, hard-coded in the
// reference, a parameter here) are set to the clamp floor ε before the clamp (eps64 in float64,
// 2^-23 in float32), so those directions get √ε in the output (1.49e-8 in float64, 3.45e-4 in
// float32); N = n − drop are kept (206 for n = 256). With n <= drop every eigenvalue becomes ε.
// Backward: exactly Original on the modified λ: the `drop` equal eigenvalues give +inf for all
// their pairs, which Φ₊ replaces by the batch-wide largest finite K̃.
#include "ops/matfn/k_rules.h"
#include "ops/ops.h"
#include "ops/matfn/sqrt_rule.h"

namespace dsvd {

Tensor topn_eigenvalues(const Tensor& s, int drop) {
  DSVD_CHECK(s.dim() == 2, "topn_eigenvalues: expects (B, n), got shape ", shape_str(s.sizes()));
  DSVD_CHECK(drop >= 0, "topn: the number of eigenvalues to drop must be >= 0, got ", drop);
  const int64_t n = s.size(1), keep = std::max<int64_t>(0, n - drop);
  // mask_k = 1 for the kept (largest) positions 0..keep-1.
  Tensor kept = lt(arange(0.0, double(n), 1.0, s.dtype()).to(s.device()), double(keep));
  return where(kept, s, scalar_tensor(clamp_floor(s.dtype()), s.dtype()));
}

namespace {
Tensor drop_smallest(const Tensor& values, const MatrixSqrtOptions& options) {
  return topn_eigenvalues(values, options.topn_drop);
}
SqrtForward forward(const Tensor& sigma, const MatrixSqrtOptions& options) {
  return svd_forward_transformed(sigma, options, drop_smallest);
}
Tensor build_k(const Tensor& lambda, const MatrixSqrtOptions&) { return k_original(lambda); }
}  // namespace

extern const SqrtRule topn_rule = {
    .method = SqrtMethod::TopN,
    .name = "topn",
    .summary = "eig forward with the 50 smallest λ set to ε; Original's backward",
    .file = "ops/matfn/svd_topn.cpp",
    .options = {"topn_drop"},
    .uses_eigendecomposition = true,
    .repairs_feature_gradient = true,
    .forward = forward,
    .k_builder = build_k,
    .fix_k = true,
    .repair_sites = k_rule_sites(true),
    .audit_notes = k_rule_notes(),
};

}  // namespace dsvd
