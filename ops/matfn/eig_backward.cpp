#include "ops/matfn/eig_backward.h"

#include <cmath>

#include "autograd/audit.h"
#include "ops/ops.h"

namespace dsvd {

SpectralGradients spectral_power_backward(const Tensor& grad_f, const Tensor& v, const Tensor& f_lambda) {
  Tensor g_sym = add(grad_f, grad_f.transpose(1, 2));
  Tensor grad_v = mul(matmul(g_sym, v), f_lambda.unsqueeze(1));  // (G + Gᵀ) V diag(f(λ))
  Tensor vt_g_v = matmul(v.transpose(1, 2), matmul(grad_f, v));   // Vᵀ G V
  Tensor projection = sum(mul(vt_g_v, eye(f_lambda.size(1), f_lambda.dtype(), f_lambda.device())), {2});
  return {grad_v, projection};
}

PowerGradients power_backward(const Tensor& grad_q, const Tensor& v, const Tensor& lambda) {
  Tensor sqrt_lambda = sqrt(lambda);
  SpectralGradients g = spectral_power_backward(grad_q, v, sqrt_lambda);
  return {g.grad_v, div(mul(g.projection, 0.5), sqrt_lambda)};  // g_λ = ½ λ^{-1/2} dg(Vᵀ G V)
}

Tensor k_rule_backward(const PowerGradients& power, const Tensor& v, Tensor k_tilde, bool fix_k, MatfnReport* report,
                       const ReplicaMax& across_replicas) {
  RepairCounts* counts = report ? &report->repairs : nullptr;
  k_tilde = k_tilde.contiguous();
  if (fix_k) {
    repair_infinities(k_tilde, "K", counts, across_replicas);
    // Φ_{nan→max}: the reference replaces NaN by max(K̃), which is NaN again: nothing to do.
  }
  if (report) report->observe_k(k_tilde);
  if (audit::enabled()) audit::note("max_abs_k", max(abs(k_tilde)).item());
  Tensor vt_grad_v = matmul(v.transpose(1, 2), power.grad_v);
  Tensor inner = add(mul(k_tilde.transpose(1, 2), vt_grad_v), diag_embed(power.grad_lambda)).contiguous();
  repair_infinities(inner, "inner", counts, across_replicas);
  Tensor grad_sigma = matmul(matmul(v, inner), v.transpose(1, 2)).contiguous();
  repair_infinities(grad_sigma, "grad_sigma", counts, across_replicas);
  return grad_sigma;
}

}  // namespace dsvd
