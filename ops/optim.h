// The optimizers' in-place parameter updates as ops (no autograd), so that nn/optim reaches every
// device through the kernel table. The formula is math::SgdStep (ops/math/elementwise.h).
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace dsvd {

// param -= lr·d with PyTorch's SGD rule (weight decay, momentum buffer, dampening, Nesterov);
// `buffer` undefined without momentum; `first` when the buffer holds nothing yet. param, grad and
// buffer: one device, one float dtype, one shape; grad may be any layout.
void sgd_update_(const Tensor& param, const Tensor& grad, const Tensor& buffer, double lr, double momentum,
                 double dampening, double weight_decay, bool nesterov, bool first);

// Scalars that an update reads from device memory when it runs, not when it is queued, so that a
// recorded graph (tensor/device_graph.h) replays with their current values and nothing is read
// back to the host: each a float64 with one element on the parameter's device, or undefined.
struct SgdDeviceScalars {
  Tensor lr;       // the step size is lr · lr_factor (undefined: lr_factor is the step size)
  Tensor skip;     // non-zero: the update leaves parameter and buffer alone (float16's scaler found inf/NaN)
  Tensor started;  // zero: no update has run, the buffer starts from this gradient (replaces `first`)
};
// The same with those scalars.
void sgd_update_(const Tensor& param, const Tensor& grad, const Tensor& buffer, const SgdDeviceScalars& scalars,
                 double lr_factor, double momentum, double dampening, double weight_decay, bool nesterov, bool first);

// One parameter's part of a many-parameter update: its step size is lr_factor (times
// scalars.lr when given), its own weight decay, whether its buffer starts now.
struct SgdParamUpdate {
  Tensor param, grad, buffer;  // buffer undefined without momentum
  double lr_factor = 1, weight_decay = 0;
  bool first = false;
};
// Every parameter's update at once (on a GPU a few launches instead of one per parameter); the
// single-parameter sgd_update_ is this with one entry. All on one device.
void sgd_update_many_(const std::vector<SgdParamUpdate>& updates, const SgdDeviceScalars& scalars, double momentum,
                      double dampening, bool nesterov);

}  // namespace dsvd
