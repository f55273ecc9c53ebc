// Learning-rate schedules, evaluated per epoch (as the ImageNet scripts do) from the base lr:
//   step:       lr · γ^floor(epoch / step_size)
//   multistep:  lr · γ^(number of milestones <= epoch)
//   cosine:     η_min + (lr − η_min)·(1 + cos(π·epoch / T_max))/2   (epoch may be fractional:
//               evaluated every step, it anneals smoothly to η_min at T_max)
//   constant:   lr
// with an optional linear warm-up over the first `warmup_epochs` epochs: the scheduled value
// times (epoch + 1)/warmup_epochs.
#pragma once
#include <string>
#include <vector>

namespace dsvd::nn {

struct LrSchedule {
  std::string kind = "constant";  // constant | step | multistep | cosine
  double gamma = 0.1;
  int64_t step_size = 30;
  std::vector<int64_t> milestones;
  int64_t t_max = 90;
  double eta_min = 0.0;
  int64_t warmup_epochs = 0;

  // `epoch` counts from 0 and may carry the fraction of the epoch done; step and multistep
  // schedules use its integer part.
  double lr_at(double base_lr, double epoch) const;
};

// Parses "constant", "step:30[:0.1]", "multistep:10,20[:0.1]", "cosine:90[:eta_min]".
LrSchedule parse_lr_schedule(const std::string& text);

}  // namespace dsvd::nn
