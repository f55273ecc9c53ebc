// The optimizers' in-place parameter updates, and the ops on lists of gradients that gradient
// clipping and loss scaling need, as ops (no autograd), so that nn/optim reaches every device
// through the kernel table. The SGD formula is math::SgdStep (ops/math/elementwise.h). Each
// list op is a few launches on a GPU whatever the number of tensors (a ResNet-50 has 161).
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

// Σ over all tensors of Σ_i t_i², summed in float64, as a float64 scalar on their device (the
// square of the global L2 norm that gradient clipping needs). The sum runs in an order fixed by
// the shapes, so the result does not depend on the thread count. Empty list: 0 on the CPU.
// Tensors float32 or float64, any layout, all on one device.
Tensor sum_of_squares_many(const std::vector<Tensor>& tensors);

// Every tensor multiplied in place by `factor` (a float64 scalar on their device, read when the
// kernel runs: it may be the result of earlier ops, nothing waits), rounded once to the tensor's
// dtype as PyTorch's tensor.mul_(scalar_tensor) does. With `found_non_finite` (a float64 scalar on
// the device), that flag is set to 1 where any element was ±inf or NaN before the scaling, and
// left as it is otherwise (loss scaling's unscale). Tensors contiguous, float32 or float64.
void scale_many_(const std::vector<Tensor>& tensors, const Tensor& factor, const Tensor& found_non_finite = Tensor());

}  // namespace dsvd
