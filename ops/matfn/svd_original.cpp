// SVD-Original: the ordinary eig gradient with the reference's overflow check (docs/matrix-functions.md §5.1).
//
//   K̃_ij = 1/(λ_i − λ_j) for i ≠ j,  K̃_ii = 0.
//
// Ties (λ_i == λ_j bitwise, e.g. two eigenvalues clamped to the floor ε) give λ_i − λ_j = +0 and so
// K̃_ij = K̃_ji = +inf; Φ₊ in the backward then replaces them by the largest finite K̃ of the
// whole batch. Written as 1/(D + I) − I with D_ij = λ_i − λ_j: exact off the diagonal (adding
// and subtracting 0), 0 on it, and no inf·0 anywhere.
#include "ops/matfn/k_rules.h"
#include "ops/ops.h"
#include "ops/matfn/sqrt_rule.h"

namespace dsvd {

Tensor k_original(const Tensor& lambda) {
  DSVD_CHECK(lambda.dim() == 2, "k_original: expects eigenvalues (B, n), got shape ", shape_str(lambda.sizes()));
  Tensor identity = eye(lambda.size(1), lambda.dtype(), lambda.device());
  Tensor differences = sub(lambda.unsqueeze(2), lambda.unsqueeze(1));  // D_ij = λ_i − λ_j
  return sub(rdiv(add(differences, identity), 1.0), identity);
}

namespace {
Tensor build_k(const Tensor& lambda, const MatrixSqrtOptions&) { return k_original(lambda); }
}  // namespace

extern const SqrtRule original_rule = {
    .method = SqrtMethod::Original,
    .name = "original",
    .summary = "eig forward; K̃ = 1/(λi−λj), ±inf -> batch max/min",
    .file = "ops/matfn/svd_original.cpp",
    .options = {},
    .uses_eigendecomposition = true,
    .repairs_feature_gradient = true,
    .forward = svd_forward,
    .k_builder = build_k,
    .fix_k = true,
    .repair_sites = k_rule_sites(true),
    .audit_notes = k_rule_notes(),
};

}  // namespace dsvd
