// clip_grad_norm: scales all gradients together so that their global L2 norm is at most
// max_norm (coefficient min(1, max_norm / (norm + 1e-6)), as torch.nn.utils.clip_grad_norm_);
// returns the norm before clipping, a float64 scalar on the gradients' device. Nothing is read
// back to the host: on a GPU the step goes on without waiting. The DSVD recipe clips to 5 every
// step.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace dsvd::nn {

Tensor clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm);

}  // namespace dsvd::nn
