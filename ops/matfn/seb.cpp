// SEB, the Scaling Eigen Branch (Song, Sebe and Wang, TPAMI 2022; docs/matrix-functions.md §7):
// the covariance head for fine-grained recognition, as the reference's SEB.py computes it. It is
// in the table of rules (so that --head seb, svd_lab and the audit know it), but its output is not
// a square root of Σ:
//
//   Σ = V diag(λ) Vᵀ, λ clamped at the dtype's floor ε     (svd_forward)
//   Q = V diag(√λ) Vᵀ,  S = V diag(e^{−λ}) Vᵀ,  A = Q Sᵀ
//   out = Q + Q ∘ D,  D = A ⊘ (A / max(‖A‖_F, 10⁻¹²))
//
// The reference divides A element-wise by its normalised self (F.normalize of the flattened
// matrix). That is D_ij = max(‖A‖_F, 10⁻¹²) wherever A_ij ≠ 0, and 0/0 = NaN where A_ij is exactly
// 0 (a diagonal Σ, say): then out_ij = Q_ij + Q_ij·NaN = NaN. dsvd writes D explicitly in that
// form, and its gradient goes through the norm: ∂L/∂A = (Σ_{A_ij≠0} G_ij Q_ij) · A/‖A‖_F, which
// is what autograd of the division gives wherever no entry of A is 0.
//
// Backward, by hand: G_Q = G ∘ (1 + D) + G_A S, G_S = G_Aᵀ Q; then both branches into the
// eigendecomposition's power step,
//   G_V = (G_Q + G_Qᵀ) V diag(√λ) + (G_S + G_Sᵀ) V diag(e^{−λ})
//   g_λ = ½ λ^{−½} ∘ dg(Vᵀ G_Q V) − e^{−λ} ∘ dg(Vᵀ G_S V)
// and Original's K step (K̃ = 1/(λi − λj) with the reference's batch-wide repairs of K̃, of the
// inner matrix and of G_Σ). No repair after covariance pooling.
#include <cmath>

#include "autograd/audit.h"
#include "ops/matfn/eig_backward.h"
#include "ops/matfn/k_rules.h"
#include "ops/matfn/sqrt_rule.h"
#include "ops/ops.h"

namespace dsvd {
namespace {

constexpr double kNormalizeEps = 1e-12;  // F.normalize's floor on the norm

// V diag(d) Vᵀ for d (B, n).
Tensor spectral(const Tensor& v, const Tensor& d) { return matmul(mul(v, d.unsqueeze(1)), v.transpose(1, 2)); }

// Builds the branches on the eigendecomposition's result (Q, V, λ saved by svd_forward).
void add_branches(SqrtForward& f) {
  const Tensor& v = f.saved[1].tensor;
  const Tensor& lambda = f.saved[2].tensor;
  const Tensor q = f.out;
  Tensor s = spectral(v, exp(neg(lambda)));
  Tensor a = matmul(q, s.transpose(1, 2));
  Tensor norm = sqrt(sum(mul(a, a), {1, 2}, true));  // (B, 1, 1)
  norm = where(lt(norm, kNormalizeEps), scalar_tensor(kNormalizeEps, norm.dtype()), norm);
  Tensor d = where(eq(a, scalar_tensor(0.0, a.dtype())), scalar_tensor(NAN, a.dtype()), norm.expand(a.sizes()));
  f.out = add(q, mul(q, d));
  f.saved.push_back({"sqrt", q});
  f.saved.push_back({"exp", s});
  f.saved.push_back({"a", a});
  f.saved.push_back({"norm", norm});
  f.saved.push_back({"d", d});
}

SqrtForward forward(const Tensor& sigma, const MatrixSqrtOptions& options) {
  return svd_forward_transformed(sigma, options, nullptr, add_branches);
}

Tensor backward(const Tensor& grad, const FunctionNode& saved, const MatrixSqrtOptions& options) {
  const Tensor& v = saved.saved_tensor("eigenvectors");
  const Tensor& lambda = saved.saved_tensor("eigenvalues");
  const Tensor& q = saved.saved_tensor("sqrt");
  const Tensor& s = saved.saved_tensor("exp");
  const Tensor& a = saved.saved_tensor("a");
  const Tensor& norm = saved.saved_tensor("norm");
  const Tensor& d = saved.saved_tensor("d");
  const Tensor zero = scalar_tensor(0.0, a.dtype());
  const Tensor is_zero = eq(a, zero);
  // Through the norm (not where it sits at F.normalize's floor).
  Tensor g_norm = sum(where(is_zero, zero, mul(grad, q)), {1, 2}, true);
  g_norm = where(gt(norm, kNormalizeEps), g_norm, zero);
  Tensor g_a = mul(div(g_norm, norm), a);
  Tensor g_q = add(mul(grad, add(d, 1.0)), matmul(g_a, s));
  Tensor g_s = matmul(g_a.transpose(1, 2), q);
  PowerGradients power = power_backward(g_q, v, lambda);  // the √λ branch
  Tensor e = exp(neg(lambda));
  SpectralGradients exp_branch = spectral_power_backward(g_s, v, e);  // the e^{−λ} branch: f' = −e^{−λ}
  power.grad_v = add(power.grad_v, exp_branch.grad_v);
  power.grad_lambda = sub(power.grad_lambda, mul(e, exp_branch.projection));
  return k_rule_backward(power, v, k_original(lambda), /*fix_k=*/true, options.report.get(),
                         options.repair_across_replicas);
}

}  // namespace

extern const SqrtRule seb_rule = {
    .method = SqrtMethod::Seb,
    .name = "seb",
    .summary = "eig forward; Q + Q·‖Q Sᵀ‖_F (S = V e^−λ Vᵀ, TPAMI'22); Original's K step",
    .file = "ops/matfn/seb.cpp",
    .options = {},
    .uses_eigendecomposition = true,
    .repairs_feature_gradient = false,
    .square_root = false,
    .forward = forward,
    .backward = backward,
    .repair_sites = {"K", "inner", "grad_sigma"},
    .audit_notes = k_rule_notes(),
};

}  // namespace dsvd
