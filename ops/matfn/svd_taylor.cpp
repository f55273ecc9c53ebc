// SVD-Taylor: a degree-100 Taylor series for 1/(λ_i − λ_j) (docs/matrix-functions.md §5.4).
//
//   r_ij = λ_i/λ_j if λ_i/λ_j < 1, else 1/(λ_i/λ_j)      (r = λmin/λmax ∈ (0, 1], r_ii = 0)
//   a_ij = 1/λ_i   if λ_i >= λ_j,  else −1/λ_j             (a_ii = 0)
//   K̃_ij = a_ij · Σ_{k=0}^{100} r_ij^k                    (acc = 1, pw = 1; 100×: pw *= r; acc += pw)
//
// For distinct eigenvalues this is the Maclaurin series of (1/λmax)·1/(1 − λmin/λmax) with the
// sign of λ_i − λ_j; its relative error is r^101 (2.4e-5 at r = 0.9, 0.36 at 0.99). Ties: r = 1,
// a_ij = a_ji = +1/λ_i, so K̃_ij = K̃_ji = 101/λ_i (4.5486e17 at eps64, 8.4725e8 at float32's
// floor 2^-23): large but finite.
#include "ops/matfn/k_rules.h"
#include "ops/ops.h"
#include "ops/matfn/sqrt_rule.h"

namespace dsvd {

SeriesTerms series_terms(const Tensor& lambda) {
  DSVD_CHECK(lambda.dim() == 2, "series_terms: expects eigenvalues (B, n), got shape ", shape_str(lambda.sizes()));
  Tensor identity = eye(lambda.size(1), lambda.dtype(), lambda.device());
  Tensor li = lambda.unsqueeze(2), lj = lambda.unsqueeze(1);
  Tensor ratio = div(li, lj);
  // The reference subtracts I after taking the ratio, so the diagonal (ratio 1) becomes 0.
  Tensor r = sub(where(lt(ratio, 1.0), ratio, rdiv(ratio, 1.0)), identity);
  Tensor a = mul(where(ge(li, lj), rdiv(li, 1.0), neg(rdiv(lj, 1.0))), rsub(identity, 1.0));
  return {r, a};
}

Tensor k_taylor(const Tensor& lambda, int degree) {
  DSVD_CHECK(degree >= 0, "k_taylor: the degree must be >= 0, got ", degree);
  SeriesTerms t = series_terms(lambda);
  return mul(t.a, polynomial(t.r, std::vector<double>(size_t(degree) + 1, 1.0)));
}

namespace {
Tensor build_k(const Tensor& lambda, const MatrixSqrtOptions& options) { return k_taylor(lambda, options.taylor_degree); }
}  // namespace

extern const SqrtRule taylor_rule = {
    .method = SqrtMethod::Taylor,
    .name = "taylor",
    .summary = "eig forward; K̃ by a degree-100 Taylor series",
    .file = "ops/matfn/svd_taylor.cpp",
    .options = {"taylor_degree"},
    .uses_eigendecomposition = true,
    .repairs_feature_gradient = true,
    .forward = svd_forward,
    .k_builder = build_k,
    .fix_k = true,
    .repair_sites = k_rule_sites(true),
    .audit_notes = k_rule_notes(),
};

}  // namespace dsvd
