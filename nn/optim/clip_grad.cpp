#include "nn/optim/clip_grad.h"

#include "ops/ops.h"

namespace dsvd::nn {

Tensor clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm) {
  DSVD_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be positive, got ", max_norm);
  NoGradGuard no_grad;
  // Σ‖g‖² in float64, parameter by parameter in their order (the same sum on every device).
  Tensor total;
  for (const auto& p : parameters) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    const Tensor g64 = g.to(DType::Float64);
    const Tensor squares = sum(mul(g64, g64));
    total = total.defined() ? add(total, squares) : squares;
  }
  if (!total.defined()) return zeros({}, DType::Float64);
  const Tensor norm = sqrt(total);
  // min(1, max_norm / (norm + 1e-6)): a factor of exactly 1 leaves the gradients as they are.
  const Tensor coef = clamp(rdiv(add(norm, 1e-6), max_norm), -std::numeric_limits<double>::infinity(), 1.0);
  for (const auto& p : parameters) {
    const Tensor g = p.grad();
    if (g.defined()) p.set_grad(mul(g, coef.to(g.dtype())));
  }
  return norm;
}

}  // namespace dsvd::nn
