// SVD-PI with deflation: the per-eigenvector power-iteration gradient of Wang et al., NeurIPS
// 2019 ("Backpropagation-friendly eigendecomposition"), a working alternative to "pi".
//
// Eigenvector k is the fixed point of T = 20 power iterations v ← M_k v / ‖M_k v‖ on the deflated
// matrix M_k = Σ − Σ_{i<k} λ_i v_i v_iᵀ. Back-propagating through those iterations at the fixed
// point gives ∂L/∂M_k = Σ_{s<T} (M_k/λ_k)^s (I − v_k v_kᵀ) g_k v_kᵀ / λ_k, and back-propagating
// through the deflation passes −λ_k W_kj v_j into the gradient of every later v_j. In the
// eigenbasis (C = Vᵀ G_V, c_T(r) = Σ_{s<T} r^s) this is, for the descending λ:
//
//   W_jk = C_jk / λ_k                                     j < k   (directions deflated away)
//   W_jk = (C_jk − λ_k C_kj / λ_j) · c_T(λ_j/λ_k) / λ_k   j > k
//   G_Σ  = V (W + diag(g_λ)) Vᵀ                            (λ_k = v_kᵀ Σ v_k gives g_λ)
//
// As T → ∞, G_Σ + G_Σᵀ becomes the exact gradient; for finite T it is a Taylor-like truncation of
// 1/(λ_k − λ_j) of degree T − 1 on one side of each pair. Unlike "pi" it passes a real gradient.
// A tie λ_j = λ_k gives c_T(1) = T: large (T/eps64 at the clamp floor) but finite.
// Test: tests/matfn/test_sqrtm.cpp runs the literal per-eigenvector iterations and compares.
#include "ops/matfn/eig_backward.h"
#include "ops/ops.h"
#include "ops/matfn/sqrt_rule.h"

namespace dsvd {

Tensor svd_pi_deflation_backward(const PowerGradients& power, const Tensor& v, const Tensor& lambda, int iterations) {
  DSVD_CHECK(iterations >= 1, "pi-deflation: iterations must be >= 1, got ", iterations);
  const int64_t n = v.size(1);
  Tensor c = matmul(v.transpose(1, 2), power.grad_v);  // C_jk = v_jᵀ g_k
  Tensor lk = lambda.unsqueeze(1), lj = lambda.unsqueeze(2);  // λ_k along columns, λ_j along rows
  Tensor index = arange(0.0, double(n), 1.0, v.dtype()).to(v.device());
  Tensor row_above = lt(index.unsqueeze(1), index.unsqueeze(0));  // j < k (row j, column k)
  Tensor row_below = gt(index.unsqueeze(1), index.unsqueeze(0));  // j > k
  Tensor upper = div(c, lk);
  Tensor corrected = sub(c, div(mul(lk, c.transpose(1, 2)), lj));  // C_jk − λ_k C_kj / λ_j
  Tensor series = polynomial(div(lj, lk), std::vector<double>(size_t(iterations), 1.0));  // c_T(λ_j/λ_k)
  Tensor lower = div(mul(corrected, series), lk);
  Tensor zero = zeros({}, v.dtype(), v.device());
  Tensor w = add(where(row_above, upper, zero), where(row_below, lower, zero));
  Tensor inner = add(w, diag_embed(power.grad_lambda));
  return matmul(matmul(v, inner), v.transpose(1, 2));
}

namespace {
Tensor backward(const Tensor& grad_q, const FunctionNode& saved, const MatrixSqrtOptions& options) {
  const Tensor& v = saved.saved_tensor("eigenvectors");
  const Tensor& lambda = saved.saved_tensor("eigenvalues");
  return svd_pi_deflation_backward(power_backward(grad_q, v, lambda), v, lambda, options.pi_iterations);
}
}  // namespace

extern const SqrtRule pi_deflation_rule = {
    .method = SqrtMethod::PIDeflation,
    .name = "pi-deflation",
    .summary = "eig forward; per-eigenvector power iteration with deflation (NeurIPS'19)",
    .file = "ops/matfn/svd_pi_deflation.cpp",
    .options = {"pi_iterations"},
    .uses_eigendecomposition = true,
    .repairs_feature_gradient = false,
    .forward = svd_forward,
    .backward = backward,
    .repair_sites = {},
    .audit_notes = spectrum_notes(),
};

}  // namespace dsvd
