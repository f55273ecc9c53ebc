// SVD-exact: the Daleckii–Krein form of the square root's derivative, the reference every other
// rule is compared with (not one of the paper's seven).
//
// With Cm = Vᵀ G V and S = Cm + Cmᵀ, the derivative of Σ ↦ Σ^{1/2} contracted with G is
//   G_Σ + G_Σᵀ = V R Vᵀ,   R_ij = S_ij / (√λ_i + √λ_j)
// (on the diagonal R_ii = Cm_ii/√λ_i). 1/(√λ_i + √λ_j) stays finite when λ_i = λ_j, so ties —
// the everyday case of rank-deficient covariances — need no repair. This rule returns the
// symmetric G_Σ = ½ V R Vᵀ, so that covariance pooling's G_Σ + G_Σᵀ is exactly V R Vᵀ.
#include "ops/matfn/eig_backward.h"
#include "ops/ops.h"
#include "ops/matfn/sqrt_rule.h"

namespace dsvd {

Tensor svd_exact_backward(const Tensor& grad_q, const Tensor& v, const Tensor& lambda) {
  Tensor cm = matmul(v.transpose(1, 2), matmul(grad_q, v));
  Tensor s = add(cm, cm.transpose(1, 2));
  Tensor root = sqrt(lambda);
  Tensor r = div(s, add(root.unsqueeze(2), root.unsqueeze(1)));
  return mul(matmul(matmul(v, r), v.transpose(1, 2)), 0.5);
}

namespace {
Tensor backward(const Tensor& grad_q, const FunctionNode& saved, const MatrixSqrtOptions&) {
  return svd_exact_backward(grad_q, saved.saved_tensor("eigenvectors"), saved.saved_tensor("eigenvalues"));
}
}  // namespace

extern const SqrtRule exact_rule = {
    .method = SqrtMethod::Exact,
    .name = "exact",
    .summary = "eig forward; Daleckii–Krein S_ij/(√λi+√λj), finite at ties",
    .file = "ops/matfn/svd_exact.cpp",
    .options = {},
    .uses_eigendecomposition = true,
    .repairs_feature_gradient = false,
    .forward = svd_forward,
    .backward = backward,
    .repair_sites = {},
    .audit_notes = spectrum_notes(),
};

}  // namespace dsvd
