#include "nn/optim/clip_grad.h"

#include "nn/optim/gradient_list.h"
#include "ops/ops.h"
#include "ops/optim.h"

namespace dsvd::nn {

Tensor clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm) {
  DSVD_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be positive, got ", max_norm);
  NoGradGuard no_grad;
  const std::vector<Tensor> grads = contiguous_gradients(parameters);
  if (grads.empty()) return zeros({}, DType::Float64);
  // ‖g‖ over all gradients, Σ g² in float64 (a few launches on a GPU whatever their number).
  const Tensor norm = sqrt(sum_of_squares_many(grads));
  // min(1, max_norm / (norm + 1e-6)): a factor of exactly 1 leaves the gradients as they are.
  const Tensor coef = clamp(rdiv(add(norm, 1e-6), max_norm), -std::numeric_limits<double>::infinity(), 1.0);
  scale_many_(grads, coef);  // in place, the factor rounded to each gradient's dtype
  return norm;
}

}  // namespace dsvd::nn
