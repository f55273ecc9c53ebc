#include "nn/optim/clip_grad.h"

#include <cmath>

#include "ops/ops.h"

namespace dsvd::nn {

double clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm) {
  DSVD_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be positive, got ", max_norm);
  double total = 0;
  for (const auto& p : parameters) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    NoGradGuard no_grad;
    Tensor g64 = g.to(DType::Float64);
    total += sum(mul(g64, g64)).item();
  }
  const double norm = std::sqrt(total);
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1) {
    NoGradGuard no_grad;
    for (const auto& p : parameters)
      if (p.grad().defined()) p.set_grad(mul(p.grad(), coef));
  }
  return norm;
}

}  // namespace dsvd::nn
