// SVD-Newton (docs/matrix-functions.md §5.7): the SVD's output with Newton–Schulz's backward.
//
// Forward: the eigendecomposition's Q = V diag(√λ) Vᵀ, and, alongside, the Newton–Schulz
// iteration on Σ/tr(Σ) (10 iterations) whose iterates the backward needs.
// Backward: newton_schulz_backward (newton_schulz.h) on those iterates. It never divides by an
// eigenvalue gap, so nothing is repaired; it is exact once Newton–Schulz has converged.
#include "ops/matfn/newton_schulz.h"
#include "ops/matfn/sqrt_rule.h"

namespace dsvd {
namespace {

SqrtForward forward(const Tensor& sigma, const MatrixSqrtOptions& options) {
  // Newton–Schulz first: the audit notes of svd_forward's spectrum go on the next traced line,
  // which must be this op's, not one of the iteration's products.
  auto ns = newton_schulz_saved(newton_schulz_forward(sigma, options.newton_iterations));
  SqrtForward f = svd_forward(sigma, options);
  f.saved.insert(f.saved.end(), ns.begin(), ns.end());
  return f;
}

Tensor backward(const Tensor& grad_q, const FunctionNode& saved, const MatrixSqrtOptions& options) {
  return newton_schulz_backward(grad_q, saved.saved_tensor("sigma"),
                                newton_schulz_from_saved(saved, options.newton_iterations));
}

}  // namespace

extern const SqrtRule newton_rule = {
    .method = SqrtMethod::Newton,
    .name = "newton",
    .summary = "eig forward; Newton–Schulz backward (10 iterations)",
    .file = "ops/matfn/svd_newton.cpp",
    .options = {"newton_iterations"},
    .uses_eigendecomposition = true,
    .repairs_feature_gradient = false,
    .forward = forward,
    .backward = backward,
    .repair_sites = {},
    .audit_notes = spectrum_notes(),
};

}  // namespace dsvd
