// Dynamic loss scaling for float16 mixed precision, as torch.cuda.amp.GradScaler: float16 keeps
// 5 exponent bits, so small gradients underflow to zero unless the loss is multiplied by a large
// scale S before the backward. Each step:
//   1. backward of S·loss (scale());
//   2. unscale(): every gradient divided by S, in place, and a check for inf/NaN (one read for
//      all parameters);
//   3. step(): the optimizer steps only when every gradient is finite; otherwise the step is
//      skipped (parameters and momentum untouched) and counted;
//   4. update(): S ← S·backoff (0.5) after a skipped step; S ← S·growth (2) after
//      `growth_interval` (2000) finite steps in a row.
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
  Tensor scale(const Tensor& loss) const;
  // Divides the gradients by the scale (once per step) and returns whether one holds inf/NaN.
  bool unscale(const std::vector<Tensor>& parameters);
  // optimizer.step() unless unscale() found inf/NaN (unscales first if the caller did not);
  // returns whether it stepped.
  bool step(Sgd& optimizer, const std::vector<Tensor>& parameters);
  void update();

  double current_scale() const { return scale_; }
  int64_t skipped_steps() const { return skipped_; }  // since construction or the last load
  // For checkpoints: "grad_scaler.scale" and "grad_scaler.growth_tracker" (float64 scalars;
  // the prefix is nn::kGradScalerStatePrefix, which weight loading skips).
  NamedTensors state() const;
  void load_state(const NamedTensors& state);

 private:
  GradScalerOptions options_;
  double scale_;
  int64_t growth_tracker_ = 0;  // finite steps since the scale last changed
  int64_t skipped_ = 0;
  bool unscaled_ = false, found_inf_ = false;
};

}  // namespace dsvd::nn
