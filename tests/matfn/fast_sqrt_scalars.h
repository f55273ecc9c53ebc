// The scalar forms of the fast square roots, the independent reference of their matrix forward:
// with Σ = V diag(λ) Vᵀ normalised by s = ‖Σ‖_F = ‖λ‖₂ and z = 1 − λ/s, each eigenvalue goes
// through the polynomial (MTP) or the rational function P(z)/Q(z) (MPA) on its own.
#pragma once
#include <cmath>
#include <vector>

#include "ops/matfn/fast_sqrt.h"

namespace dsvd::test {

inline double spectrum_frobenius_norm(const std::vector<double>& lambda) {
  double s = 0;
  for (double l : lambda) s += l * l;
  return std::sqrt(s);
}

// Σ_k c_k z^k for MTP's degree-10 coefficients (≈ √(1 − z)).
inline double mtp_scalar(double z) {
  double poly = 0;
  for (int k = 10; k >= 0; --k) poly = poly * z + mtp_coefficients()[size_t(k)];
  return poly;
}

struct RationalValue {
  double numerator, denominator;  // P(z), Q(z): P/Q ≈ √(1 − z)
};
inline RationalValue mpa_scalar(double z) {
  double num = 0, den = 0;
  for (int k = 5; k >= 0; --k) num = num * z + mpa_numerator()[size_t(k)], den = den * z + mpa_denominator()[size_t(k)];
  return {num, den};
}

}  // namespace dsvd::test
