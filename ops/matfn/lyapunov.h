// The backward of the fast square roots (MTP-Lya, MPA-Lya; docs/matrix-functions.md §10): for
// Y ≈ A^{1/2} and the upstream gradient G = ∂L/∂Y, the gradient ∂L/∂A is the X that solves the
// Lyapunov equation
//   Y X + X Y = G,
// since A = Y² gives dA = dY·Y + Y·dY and the operator Z ↦ YZ + ZY is self-adjoint for symmetric Y.
// It is solved without an eigendecomposition by the coupled Newton–Schulz iteration of the matrix
// sign function of [[B, C], [0, −B]], whose limit is [[I, 2X], [0, −I]] when B X + X B = C:
//   B₀ = Y/√s,  C₀ = G/√s   (s = ‖A‖_F per matrix: B₀'s eigenvalues √(λ/s) lie in [0, 1])
//   B_{k+1} = ½ B_k (3I − B_k²)
//   C_{k+1} = ½ ( C_k (3I − B_k²) − B_k² C_k + B_k C_k B_k )
//   X = ½ C_final.
// No 1/(λ_i − λ_j) appears: ties need no repair. A zero eigenvalue of A gives B₀ an eigenvalue 0,
// a fixed point of the iteration: that direction never converges (the audit reports ‖B − I‖_F).
#pragma once
#include "tensor/tensor.h"

namespace dsvd {

struct LyapunovResult {
  Tensor x;               // (B, n, n)
  int iterations = 0;     // run (fewer than asked when the tolerance stop fired)
  double residual = -1;   // max over the batch of ‖B_final − I‖_F; −1 when not measured
};

// y (B, n, n) symmetric, g (B, n, n), root_scale (B, 1, 1) = √s. `tolerance` > 0 stops once every
// matrix has ‖B_k − I‖_F < tolerance (a host read per iteration); `measure` reads the final
// residual (one host read) for the audit.
LyapunovResult lyapunov_sign_iteration(const Tensor& y, const Tensor& g, const Tensor& root_scale, int iterations,
                                       double tolerance, bool measure);

}  // namespace dsvd
