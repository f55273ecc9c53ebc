// The optimizers' in-place parameter updates as ops (no autograd), so that nn/optim reaches every
// device through the kernel table. The formula is math::SgdStep (ops/math/elementwise.h).
#pragma once
#include "tensor/tensor.h"

namespace dsvd {

// param -= lr·d with PyTorch's SGD rule (weight decay, momentum buffer, dampening, Nesterov);
// `buffer` undefined without momentum; `first` when the buffer holds nothing yet. param, grad and
// buffer: one device, one float dtype, one shape; grad may be any layout.
void sgd_update_(const Tensor& param, const Tensor& grad, const Tensor& buffer, double lr, double momentum,
                 double dampening, double weight_decay, bool nesterov, bool first);
// The same with the step size lr_value · lr_factor, where lr_value is a float64 scalar on the
// parameter's device read when the update runs (not when it is queued): a captured graph
// (tensor/device_graph.h) replays with whatever the schedule wrote there last.
void sgd_update_(const Tensor& param, const Tensor& grad, const Tensor& buffer, const Tensor& lr_value,
                 double lr_factor, double momentum, double dampening, double weight_decay, bool nesterov, bool first);

}  // namespace dsvd
