// SVD-PI, exactly as the reference codes it (docs/matrix-functions.md §5.6).
//
//   d    = max(‖Σ V‖_F, 1e-10)                 (per sample)
//   A₀   = (I − V Vᵀ) / d,   Tsum = A₀,  A = A₀
//   20×: A = (Σ/d) · A;  Tsum += A             (21 terms)
//   G_Σ  = Tsum · G_V · Vᵀ                     (the eigenvalue gradient g_λ is discarded)
//
// The consequence, reproduced on purpose: V is the full orthogonal n×n matrix, so I − V Vᵀ is
// zero up to rounding (~1e-16) and this rule passes essentially no gradient to the features —
// the paper's SVD-PI numbers were produced this way. The NeurIPS 2019 method it was meant to
// follow works per eigenvector with deflation: that is the rule "pi-deflation"
// (svd_pi_deflation.cpp). No overflow fix is applied here (covariance pooling still applies its
// own).
#include "ops/matfn/eig_backward.h"
#include "ops/ops.h"
#include "ops/matfn/sqrt_rule.h"

namespace dsvd {

Tensor svd_pi_backward(const PowerGradients& power, const Tensor& v, const Tensor& sigma, int iterations) {
  const int64_t n = v.size(1);
  Tensor identity = eye(n, v.dtype(), v.device());
  Tensor sigma_v = matmul(sigma, v);
  Tensor d = clamp(sqrt(sum(mul(sigma_v, sigma_v), {1, 2}, true)), 1e-10);  // (B,1,1)
  Tensor a = div(sub(identity, matmul(v, v.transpose(1, 2))), d);
  Tensor scaled_sigma = div(sigma, d);
  Tensor total = a;
  for (int k = 0; k < iterations; ++k) {
    a = matmul(scaled_sigma, a);
    total = add(total, a);
  }
  return matmul(matmul(total, power.grad_v), v.transpose(1, 2));
}

namespace {
Tensor backward(const Tensor& grad_q, const FunctionNode& saved, const MatrixSqrtOptions& options) {
  const Tensor& v = saved.saved_tensor("eigenvectors");
  PowerGradients power = power_backward(grad_q, v, saved.saved_tensor("eigenvalues"));
  return svd_pi_backward(power, v, saved.saved_tensor("sigma"), options.pi_iterations);
}
}  // namespace

extern const SqrtRule pi_rule = {
    .method = SqrtMethod::PI,
    .name = "pi",
    .summary = "eig forward; whole-V power iteration, as coded (≈ 0 gradient)",
    .file = "ops/matfn/svd_pi.cpp",
    .options = {"pi_iterations"},
    .uses_eigendecomposition = true,
    .repairs_feature_gradient = true,
    .forward = svd_forward,
    .backward = backward,
    .repair_sites = {"grad_features"},
    .audit_notes = spectrum_notes(),
};

}  // namespace dsvd
