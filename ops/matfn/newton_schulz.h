// The Newton–Schulz square root of iSQRT-COV (fast-MPN-COV, CVPR 2018; docs/matrix-functions.md §6),
// with its hand-written backward. Used by the "isqrt" layer (whose output it is) and by SVD-Newton
// (whose backward it is).
//
// Forward, N iterations, per sample:
//   τ = tr(Σ),  A = Σ/τ                                  (pre-normalisation)
//   N < 2:  Y_N = ½ A (3I − A)
//   else:   T = ½(3I − A); Y_0 = A T; Z_0 = T
//           for k = 1..N−2:  T = ½(3I − Z_{k−1} Y_{k−1}); Y_k = Y_{k−1} T; Z_k = T Z_{k−1}
//           Y_N = ½ Y_{N−2} (3I − Z_{N−2} Y_{N−2})
//   out = √τ · Y_N                                       (post-compensation)
// Backward (§6.2): see newton_schulz_backward; it returns the transpose of the true derivative
// for symmetric Σ, which covariance pooling's G_Σ + G_Σᵀ turns into the exact gradient.
#pragma once
#include <vector>

#include "autograd/function.h"
#include "autograd/node.h"
#include "tensor/tensor.h"

namespace dsvd {

struct NewtonSchulzState {
  int iterations = 0;
  Tensor a;                 // Σ/τ
  std::vector<Tensor> y, z; // Y_0..Y_{N−2}, Z_0..Z_{N−2}
  Tensor y_final;           // Y_N
  Tensor trace;             // τ, (B, 1, 1)
};

// Runs the iteration on Σ (B, n, n); the layer output is √τ · state.y_final.
NewtonSchulzState newton_schulz_forward(const Tensor& sigma, int iterations);
Tensor newton_schulz_output(const NewtonSchulzState& state);
// G_Σ for G = ∂L/∂out (§6.2).
Tensor newton_schulz_backward(const Tensor& grad_out, const Tensor& sigma, const NewtonSchulzState& state);

// The state as named saved tensors ("ns_a", "ns_y_final", "ns_trace", "ns_y<k>", "ns_z<k>"), so an
// audit dump shows every iterate, and back from a node that saved them.
std::vector<Saved> newton_schulz_saved(const NewtonSchulzState& state);
NewtonSchulzState newton_schulz_from_saved(const FunctionNode& node, int iterations);

}  // namespace dsvd
