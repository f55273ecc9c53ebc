// Dynamic loss scaling for float16 mixed precision, as torch.cuda.amp.GradScaler: float16 keeps
// 5 exponent bits, so small gradients underflow to zero unless the loss is multiplied by a large
// scale S before the backward. Each step:
//   1. backward of S·loss (scale());
//   2. unscale_(): every gradient divided by S, in place, and a check for inf/NaN;
//   3. step(): the optimizer steps only when every gradient is finite; otherwise the step is
//      skipped (parameters and momentum untouched) and counted;
//   4. update(): S ← S·backoff (0.5) after a skipped step; S ← S·growth (2) after
//      `growth_interval` (2000) finite steps in a row.
// The scale, the verdict, the growth tracker and the skip count live on the parameters' device and
// every decision is made there (the optimizer reads the verdict when its kernels run), so a step
// never waits for the device and can be recorded in a graph; found_inf(), current_scale() and
// skipped_steps() read them back when asked (a progress line, the end of an epoch).
// bfloat16 has float32's exponent range and needs no scaling (PyTorch does not scale it either).
#pragma once
#include <cstdint>
#include <vector>

#include "nn/module.h"
#include "nn/optim/sgd.h"

namespace dsvd::nn {

struct GradScalerOptions {
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions options = {});
  Tensor scale(const Tensor& loss);
  // Divides the gradients by the scale (once per step) and finds whether one holds inf/NaN,
  // without reading anything back.
  void unscale_(const std::vector<Tensor>& parameters);
  // optimizer.step() where unscale_() found every gradient finite (unscales first if the caller
  // did not); the optimizer's kernels read the verdict.
  void step(Sgd& optimizer, const std::vector<Tensor>& parameters);
  void update();

  // Reads (each waits for the device): whether the last unscale_ found inf/NaN, the current scale,
  // and the steps skipped since construction or the last load.
  bool found_inf() const;
  double current_scale() const;
  int64_t skipped_steps() const;
  // For checkpoints: "grad_scaler.scale" and "grad_scaler.growth_tracker" (float64 scalars;
  // the prefix is nn::kGradScalerStatePrefix, which weight loading skips).
  NamedTensors state() const;
  void load_state(const NamedTensors& state);

 private:
  void place_on(Device device);  // moves the state to the device of the loss or the gradients

  GradScalerOptions options_;
  // float64 scalars, on the device of the gradients once a step has run: the scale, the finite
  // steps since it last changed, the verdict of this step (1: inf/NaN found), the skipped steps.
  Tensor scale_, growth_tracker_, found_inf_, skipped_;
  bool unscaled_ = false;
};

}  // namespace dsvd::nn
