// The shared backward of the SVD square-root layer (docs/matrix-functions.md §4.2 and §4.4).
//
// Forward: Q = V diag(√λ) Vᵀ. Given G = ∂L/∂Q:
//   power step (§4.2):  G_V = (G + Gᵀ) V diag(√λ),   g_λ = ½ λ^{-1/2} ∘ dg(Vᵀ G V)
//   K step (§4.4):      inner = K̃ᵀ ∘ (Vᵀ G_V) + diag(g_λ)    then Φ(inner)
//                       G_Σ   = V inner Vᵀ                     then Φ(G_Σ)
// No symmetrisation here: covariance pooling's backward adds G_Σᵀ.
#pragma once
#include "ops/matfn/repair.h"
#include "tensor/tensor.h"

namespace dsvd {

struct PowerGradients {
  Tensor grad_v;       // G_V (B, n, n)
  Tensor grad_lambda;  // g_λ (B, n)
};
PowerGradients power_backward(const Tensor& grad_q, const Tensor& v, const Tensor& lambda);

// The power step of any spectral function F = V diag(f(λ)) Vᵀ, given G = ∂L/∂F:
//   grad_v     = (G + Gᵀ) V diag(f(λ))
//   projection = dg(Vᵀ G V), so that g_λ = f'(λ) ∘ projection (the caller applies f').
// power_backward is this with f = √·; SEB adds a second branch with f = e^{−·}.
struct SpectralGradients {
  Tensor grad_v;      // (B, n, n)
  Tensor projection;  // (B, n)
};
SpectralGradients spectral_power_backward(const Tensor& grad_f, const Tensor& v, const Tensor& f_lambda);

// The K step for a K̃ built by one of the rules of k_rules.h. `fix_k` applies Φ to K̃ first
// (every K rule but Trunc). Repairs are counted under "K", "inner" and "grad_sigma", over the
// global batch of a data-parallel job when across_replicas is set (repair.h).
Tensor k_rule_backward(const PowerGradients& power, const Tensor& v, Tensor k_tilde, bool fix_k, MatfnReport* report,
                       const ReplicaMax& across_replicas = {});

// The other backward rules, each in its own file:
//   svd_pi.cpp            whole-V power iteration, as the reference codes it (≈ 0 gradient)
//   svd_pi_deflation.cpp  per-eigenvector power iteration with deflation (NeurIPS 2019)
//   svd_exact.cpp         the Daleckii–Krein form, finite at ties
Tensor svd_pi_backward(const PowerGradients& power, const Tensor& v, const Tensor& sigma, int iterations);
Tensor svd_pi_deflation_backward(const PowerGradients& power, const Tensor& v, const Tensor& lambda, int iterations);
Tensor svd_exact_backward(const Tensor& grad_q, const Tensor& v, const Tensor& lambda);

}  // namespace dsvd
