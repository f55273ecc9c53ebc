// Global covariance pooling (docs/matrix-functions.md §2): Σ = X̄ X̄ᵀ / M per sample, with X̄ the
// features minus their spatial mean, M = H·W positions. The population covariance: no M−1, no
// ε·I, no trace normalisation; symmetric PSD with rank ≤ min(n, M−1).
//
// Backward: ∂L/∂X̂ = (G_Σ + G_Σᵀ) · X̄ / M — the exact derivative for any G_Σ, and the place
// where the non-symmetric G_Σ of the eig backward is symmetrised. For the rules whose
// reference applies them (Original, Trunc, TopN, Taylor, Padé, PI), the result then goes
// through Φ and Φ_{nan→0} (repair.h) before the cast back to the input dtype.
#pragma once
#include <memory>

#include "ops/matfn/repair.h"
#include "tensor/tensor.h"

namespace dsvd {

struct CovarianceOptions {
  DType dtype = DType::Float64;  // the dtype Σ is computed in (the reference: float64)
  bool repair_gradient = false;  // Φ then Φ_{nan→0} on ∂L/∂X (site "grad_features")
  std::shared_ptr<MatfnReport> report;   // where the repairs are counted (may be null)
  ReplicaMax repair_across_replicas;     // the fixes over the global batch (repair.h); empty: local
};

// x: (B, n, H, W) or (B, n, M), float32 or float64. Returns Σ (B, n, n) in options.dtype; the
// gradient comes back in x's dtype.
Tensor covariance_pool(const Tensor& x, const CovarianceOptions& options = {});

}  // namespace dsvd
