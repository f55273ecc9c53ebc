// SVD-Trunc: the ordinary eig gradient clipped to an upper limit (docs/matrix-functions.md §5.2).
//
//   K̃_ij = clip(1/(λ_i − λ_j), −T, +T),  K̃_ii = 0,  T = 1e10.
//
// A tie gives +inf, clipped to +T for both (i, j) and (j, i). Nothing is left for Φ to fix, so
// the backward skips the fixes on K̃ (it still applies them to `inner` and G_Σ).
#include "ops/matfn/k_rules.h"
#include "ops/ops.h"
#include "ops/matfn/sqrt_rule.h"

namespace dsvd {

Tensor k_trunc(const Tensor& lambda, double limit) {
  DSVD_CHECK(limit > 0, "k_trunc: the limit must be positive, got ", limit);
  return clamp(k_original(lambda), -limit, limit);
}

namespace {
Tensor build_k(const Tensor& lambda, const MatrixSqrtOptions& options) { return k_trunc(lambda, options.trunc_limit); }
}  // namespace

extern const SqrtRule trunc_rule = {
    .method = SqrtMethod::Trunc,
    .name = "trunc",
    .summary = "eig forward; K̃ clipped to ±1e10",
    .file = "ops/matfn/svd_trunc.cpp",
    .options = {"trunc_limit"},
    .uses_eigendecomposition = true,
    .repairs_feature_gradient = true,
    .forward = svd_forward,
    .k_builder = build_k,
    .fix_k = false,
    .repair_sites = k_rule_sites(false),
    .audit_notes = k_rule_notes(),
};

}  // namespace dsvd
