// The gradients of a parameter list as one list, for the ops on lists (ops/optim.h) that clipping
// and loss scaling run on them in place.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace dsvd::nn {

// The defined gradients of `parameters`, in their order; a gradient that is not contiguous is
// replaced (on its parameter too) by a contiguous copy, so that the list can be scaled in place.
std::vector<Tensor> contiguous_gradients(const std::vector<Tensor>& parameters);

}  // namespace dsvd::nn
