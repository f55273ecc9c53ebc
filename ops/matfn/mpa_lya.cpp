// MPA-Lya (Song, Sebe and Wang, ICLR 2022; docs/matrix-functions.md §10): the [5/5] matrix Padé
// approximant forward with one batched solve (fast_sqrt.h), the Lyapunov backward (lyapunov.h).
// No eigendecomposition and no eigenvalue gap: nothing is repaired.
#include "ops/matfn/fast_sqrt.h"
#include "ops/matfn/sqrt_rule.h"

namespace dsvd {
namespace {

SqrtForward forward(const Tensor& sigma, const MatrixSqrtOptions&) {
  FastSqrtForward f = mpa_sqrt_forward(sigma);
  return lyapunov_rule_forward(sigma, f.out, f.root_scale);
}

}  // namespace

extern const SqrtRule mpa_lya_rule = {
    .method = SqrtMethod::MpaLya,
    .name = "mpa-lya",
    .summary = "[5/5] Padé forward (one solve), Lyapunov backward (8), no eig",
    .file = "ops/matfn/mpa_lya.cpp",
    .options = {"lya_iterations", "lya_tolerance"},
    .uses_eigendecomposition = false,
    .repairs_feature_gradient = false,
    .forward = forward,
    .backward = lyapunov_rule_backward,
    .repair_sites = {},
    .audit_notes = lyapunov_rule_notes(),
};

}  // namespace dsvd
