// The fast matrix square roots of Song, Sebe and Wang ("Fast Differentiable Matrix Square Root",
// ICLR 2022; docs/matrix-functions.md §10): no eigendecomposition, only matrix products (and one
// batched linear solve for MPA), forward; the Lyapunov backward of lyapunov.h.
//
//   s = ‖A‖_F per matrix,  Z = I − A/s            (eigenvalues of Z in [0, 1]: √(1 − z) converges)
//   MTP (mtp-lya):  √(A/s) ≈ Σ_{k=0}^{10} a_k Z^k, a_k the Taylor coefficients of √(1 − z)
//   MPA (mpa-lya):  √(A/s) ≈ Q(Z)⁻¹ P(Z), the [5/5] Padé approximant of √(1 − z) (a solve, no inverse)
//   out = √s · (the approximation)
//   MPA inverse (mpa-lya-inv, inverse_sqrtm.h):  (A/s)^{-1/2} ≈ P(Z)⁻¹ Q(Z), the same approximant
//   upside down (one solve P X = Q); out = (the approximation) / √s
#pragma once
#include <array>

#include "tensor/tensor.h"

namespace dsvd {

// a_k, k = 0..10: 1, −1/2, −1/8, −1/16, −5/128, −7/256, −21/1024, −33/2048, −429/32768, −715/65536,
// −2431/262144 (exact in binary).
const std::array<double, 11>& mtp_coefficients();
// p_m, q_m, m = 0..5 of the [5/5] Padé approximant of √(1 − z) (exact dyadic numbers).
const std::array<double, 6>& mpa_numerator();
const std::array<double, 6>& mpa_denominator();

struct FastSqrtForward {
  Tensor out;         // (B, n, n) ≈ A^{1/2}
  Tensor root_scale;  // (B, 1, 1) √‖A‖_F
};
// a (B, n, n) symmetric positive semi-definite, not zero (‖A‖_F = 0 gives 0/0).
FastSqrtForward mtp_sqrt_forward(const Tensor& a);
FastSqrtForward mpa_sqrt_forward(const Tensor& a);
// ≈ A^{-1/2}; root_scale as above.
FastSqrtForward mpa_inverse_sqrt_forward(const Tensor& a);

// Whether MTP's and MPA's forwards and the Lyapunov backward on t (B, n, n) run as one fused kernel each
// (ops/kernels/linalg.h: a device that registers them, matrices that fit a block's shared
// memory) instead of their separate products and solve; DSVD_FUSED_FAST_SQRT=0 keeps them
// separate (for comparison). Same formulas, other rounding order.
bool fused_fast_sqrt(const Tensor& t);

}  // namespace dsvd
