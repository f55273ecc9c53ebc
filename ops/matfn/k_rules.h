// The K̃ builders of the SVD backward rules (docs/matrix-functions.md §5): pure functions of the
// eigenvalues λ (B, n), descending and clamped, returning K̃ (B, n, n) — the matrix that stands
// for 1/(λ_i − λ_j), with K̃_ii = 0. Raw values: the overflow fixes (repair.h) are applied by the
// backward skeleton (eig_backward.h), except for Trunc, which needs none.
//
//   rule      file              K̃_ij
//   original  svd_original.cpp  1/(λ_i − λ_j)                       ties: +inf
//   trunc     svd_trunc.cpp     clip(1/(λ_i − λ_j), ±1e10)          ties: +1e10
//   topn      svd_topn.cpp      as original, on λ with the 50 smallest set to the clamp floor ε
//   taylor    svd_taylor.cpp    a_ij · Σ_{k=0}^{100} r_ij^k          ties: 101/λ_i
//   pade      svd_pade.cpp      a_ij · P(r_ij) / Q(r_ij), [50/50]   ties: −inf
// with r_ij = λmin/λmax of the pair (r_ii = 0) and a_ij = ±1/λmax signed like λ_i − λ_j.
#pragma once
#include <array>

#include "tensor/tensor.h"

namespace dsvd {

constexpr double kEps64 = 2.220446049250313e-16;  // 2^-52, float64's machine epsilon (the tables of §8)

// The clamp floor ε of the eigenvalues: the machine epsilon of the dtype the decomposition runs
// in, as the reference's torch.finfo(dtype).eps (float64 inside the networks; float32 when the
// matrix function runs in float32). Every eigenvalue <= ε becomes ε, TopN's dropped ones too.
inline double clamp_floor(DType dtype) { return machine_epsilon(dtype); }

Tensor k_original(const Tensor& lambda);
Tensor k_trunc(const Tensor& lambda, double limit = 1e10);
Tensor k_taylor(const Tensor& lambda, int degree = 100);
Tensor k_pade(const Tensor& lambda);

// TopN's forward change (§5.3): the `drop` smallest of the descending values s (B, n) set to
// clamp_floor(s.dtype()) (all of them when n <= drop); the clamp follows as for every rule.
Tensor topn_eigenvalues(const Tensor& s, int drop = 50);

// The shared pieces of Taylor and Padé (§5.4): r_ij and a_ij, computed in the reference's order.
struct SeriesTerms {
  Tensor r;  // (B, n, n) λ_i/λ_j if < 1 else its inverse; 0 on the diagonal
  Tensor a;  // (B, n, n) 1/λ_i if λ_i >= λ_j else −1/λ_j; 0 on the diagonal
};
SeriesTerms series_terms(const Tensor& lambda);

// The [50/50] Padé coefficients p_m, q_m of §5.5 (mpmath's, rounded to float64).
const std::array<double, 51>& pade_p();
const std::array<double, 51>& pade_q();

}  // namespace dsvd
