// SGD with momentum, dampening, Nesterov and weight decay, with exactly torch.optim.SGD's update:
//   g ← ∇ + wd·p                              (when weight decay applies to p)
//   b ← g (first step),  b ← μ·b + (1 − τ)·g  (later steps; μ momentum, τ dampening)
//   g ← g + μ·b (Nesterov)  or  g ← b
//   p ← p − lr·g
// Parameters without a gradient are skipped. Weight decay can exclude BatchNorm and bias
// parameters (every parameter with fewer than 2 dimensions), a common recipe option.
#pragma once
#include <string>
#include <vector>

#include "nn/module.h"

namespace dsvd::nn {

struct SgdOptions {
  double lr = 0.1;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool exclude_bn_and_bias_from_weight_decay = false;
};

class Sgd {
 public:
  Sgd(NamedTensors parameters, SgdOptions options);
  void step();
  // The same, except that every update does nothing where `skip_if_set` (a float64 scalar on the
  // parameters' device) is non-zero when it runs: float16's loss scaler decides on the device
  // whether the step happens (nn/optim/grad_scaler.h), and the host never waits for the verdict.
  // A step skipped this way leaves the momentum buffers as if it had not been called.
  void step(const Tensor& skip_if_set);
  void zero_grad();
  // Takes effect for the updates that run after it, also those of a replayed graph.
  void set_lr(double lr);
  double lr() const { return options_.lr; }
  // The parameters whose name starts with `prefix` step with lr·factor (the reference's
  // --classifier-factor); returns how many. A later call for the same parameter replaces its factor.
  int64_t set_lr_factor(const std::string& prefix, double factor);
  const SgdOptions& options() const { return options_; }
  // Momentum buffers by parameter name (none until an update has run), for checkpoints:
  // "momentum_buffer.<parameter name>".
  NamedTensors state() const;
  void load_state(const NamedTensors& state);
  // Loads the entries whose parameter exists here with the same shape and skips the others
  // (hybrid training: the heads' parameters differ); returns how many were loaded.
  int64_t load_matching_state(const NamedTensors& state);

 private:
  // What the update kernels read from device memory on each device that holds parameters: the
  // learning rate, written by set_lr (a recorded step, tensor/device_graph.h, replays with the
  // rate of the moment), and the count of updates applied through step(skip_if_set) (zero: the
  // next applied update is the momentum buffers' first). Made on first use.
  struct OnDevice {
    Device device;
    Tensor lr, started;
  };
  OnDevice& on_device(Device device);

  NamedTensors params_;
  std::vector<OnDevice> on_device_;
  std::vector<Tensor> buffers_;
  std::vector<double> lr_factors_;
  SgdOptions options_;
};

}  // namespace dsvd::nn
