// The running figures of a training epoch — the loss, top-1, the covariance head's condition
// numbers and repairs, and the first non-finite loss — added up on the model's device step by
// step. A step only queues a few small kernels and never waits for the device (on a GPU the host
// runs ahead and keeps the stream full); read() copies every figure to the host at once, when a
// progress line, a stop or the end of the epoch needs them.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace dsvd::train {

struct StepFigures {
  int64_t steps = 0, seen = 0, correct = 0;
  double loss_sum = 0;  // Σ loss · batch size: the mean loss is loss_sum / seen
  double first_loss = 0, last_loss = 0;
  int64_t first_nonfinite_step = -1;  // the global step of the first non-finite loss; -1: none
  double nonfinite_loss = 0;          // that loss
  // The covariance head: λmax/λmin of every sample, the largest with its step and sample, and
  // the repairs its backward made.
  int64_t condition_count = 0;
  double condition_sum = 0, condition_max = 0;
  int64_t condition_max_step = -1, condition_max_sample = -1;
  double repairs_sum = 0;
};

class StepStatistics {
 public:
  explicit StepStatistics(Device device);
  // One training step: its loss (a scalar), the batch's logits (N, C) and labels (N).
  void add_step(int64_t global_step, const Tensor& loss, const Tensor& logits, const Tensor& labels);
  // The head of that step: its eigenvalues (|λ| descending, (B, n)) and its repair count (int64).
  void add_head(int64_t global_step, const Tensor& eigenvalues, const Tensor& repairs);
  // One read of everything so far (waits for the device).
  StepFigures read() const;

 private:
  Tensor scalar(double value) const;

  Device device_;
  int64_t steps_ = 0, seen_ = 0, condition_count_ = 0;  // known on the host
  // float64 scalars on device_, except correct_ (int64).
  Tensor loss_sum_, first_loss_, last_loss_, first_nonfinite_step_, nonfinite_loss_, correct_;
  Tensor condition_sum_, condition_max_, condition_max_step_, condition_max_sample_, repairs_sum_;
};

}  // namespace dsvd::train
