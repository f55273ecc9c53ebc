// iSQRT-COV (fast-MPN-COV, CVPR 2018; docs/matrix-functions.md §6): Newton–Schulz forward and
// backward (5 iterations), no eigendecomposition. The iteration itself is newton_schulz.h's.
#include "ops/matfn/newton_schulz.h"
#include "ops/matfn/sqrt_rule.h"

namespace dsvd {
namespace {

SqrtForward forward(const Tensor& sigma, const MatrixSqrtOptions& options) {
  NewtonSchulzState state = newton_schulz_forward(sigma, options.isqrt_iterations);
  SqrtForward f{newton_schulz_output(state), {{"sigma", sigma}}};
  auto ns = newton_schulz_saved(state);
  f.saved.insert(f.saved.end(), ns.begin(), ns.end());
  return f;
}

Tensor backward(const Tensor& grad_q, const FunctionNode& saved, const MatrixSqrtOptions& options) {
  return newton_schulz_backward(grad_q, saved.saved_tensor("sigma"),
                                newton_schulz_from_saved(saved, options.isqrt_iterations));
}

}  // namespace

extern const SqrtRule isqrt_rule = {
    .method = SqrtMethod::ISqrt,
    .name = "isqrt",
    .summary = "Newton–Schulz forward and backward (5 iterations), no eig",
    .file = "ops/matfn/isqrt_cov.cpp",
    .options = {"isqrt_iterations"},
    .uses_eigendecomposition = false,
    .repairs_feature_gradient = false,
    .forward = forward,
    .backward = backward,
    .repair_sites = {},
    .audit_notes = {},
};

}  // namespace dsvd
