// clip_grad_norm: scales all gradients together so that their global L2 norm is at most
// max_norm (coefficient max_norm / (norm + 1e-6), as torch.nn.utils.clip_grad_norm_); returns the
// norm before clipping. The DSVD recipe clips to 5 every step.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace dsvd::nn {

double clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm);

}  // namespace dsvd::nn
