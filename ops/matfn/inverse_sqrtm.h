// The inverse matrix square root, sqrtm's companion (docs/matrix-functions.md §11): usable on its
// own (whitening, the iSQRT-style normalisations) and compared in svd_lab (`matrix --function
// invsqrt`).
//
//   mpa-lya-inv  W = P(Z)⁻¹ Q(Z) / √s, s = ‖A‖_F, Z = I − A/s: the [5/5] Padé approximant of
//                1/√(1 − z) (fast_sqrt.h), one batched solve, no eigendecomposition.
//                Backward (Song, Sebe and Wang, TPAMI): G' = −A⁻¹ G A⁻¹ with A⁻¹ = W², then the
//                Lyapunov equation W X + X W = G' by the sign iteration (lyapunov.h) from
//                B₀ = W/c, C₀ = G'/c, X = ½ C_final. The reference takes c = ‖W‖_F of the whole
//                batch tensor (not per matrix); dsvd does the same (same X once converged; a
//                batch of unequal scales converges more slowly).
//   eig          W = V diag(λ^{-1/2}) Vᵀ with λ clamped at the dtype's floor ε (as the SVD rules
//                clamp); backward by Daleckii–Krein, V (F ∘ Vᵀ G V) Vᵀ with
//                F_ij = (λi^{-1/2} − λj^{-1/2})/(λi − λj) = −1/(√λi √λj (√λi + √λj)), which is
//                also the derivative −½ λ^{-3/2} on the diagonal and at ties: finite everywhere.
// Both return ∂L/∂A along symmetric directions, as sqrtm does: ⟨X, E⟩ = d/dt ⟨G, W(A + tE)⟩.
#pragma once
#include <string>

#include "tensor/tensor.h"

namespace dsvd {

enum class InverseSqrtMethod { MpaLyaInv, Eig };

const char* inverse_sqrt_method_name(InverseSqrtMethod method);  // "mpa-lya-inv", "eig"
// An unknown name throws, listing the valid ones.
InverseSqrtMethod parse_inverse_sqrt_method(const std::string& name);

struct InverseSqrtOptions {
  InverseSqrtMethod method = InverseSqrtMethod::MpaLyaInv;
  int lya_iterations = 8;    // mpa-lya-inv: sign iterations of the backward
  double lya_tolerance = 0;  // > 0: stop them once every ‖B_k − I‖_F < tolerance (reads back)
};

// A: (B, n, n) symmetric positive definite, float32 or float64 -> ≈ A^{-1/2} (B, n, n), same dtype.
Tensor inverse_sqrtm(const Tensor& a, const InverseSqrtOptions& options = {});

}  // namespace dsvd
