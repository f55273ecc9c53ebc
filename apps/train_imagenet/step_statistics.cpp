#include "apps/train_imagenet/step_statistics.h"

#include <limits>

#include "ops/nn_ops.h"
#include "ops/ops.h"

namespace dsvd::train {

StepStatistics::StepStatistics(Device device) : device_(device) {
  loss_sum_ = scalar(0), first_loss_ = scalar(0), last_loss_ = scalar(0);
  first_nonfinite_step_ = scalar(-1), nonfinite_loss_ = scalar(0);
  correct_ = zeros({}, DType::Int64, device);
  condition_sum_ = scalar(0), condition_max_ = scalar(0), condition_max_step_ = scalar(-1);
  condition_max_sample_ = scalar(-1), repairs_sum_ = scalar(0);
}

Tensor StepStatistics::scalar(double value) const { return full({}, value, DType::Float64, device_); }

void StepStatistics::add_step(int64_t global_step, const Tensor& loss, const Tensor& logits, const Tensor& labels) {
  NoGradGuard no_grad;
  const Tensor value = loss.detach().to(DType::Float64);
  const int64_t n = labels.numel();
  loss_sum_ = add(loss_sum_, mul(value, double(n)));
  // A copy: a float64 loss converts to itself, and a replayed graph rewrites it every step.
  if (steps_ == 0) first_loss_ = value.clone();
  last_loss_ = value;
  // The first non-finite loss: |loss| < ∞ fails for ±∞ and NaN alike.
  const Tensor finite = lt(abs(value), std::numeric_limits<double>::infinity());
  const Tensor unset = lt(first_nonfinite_step_, 0.0);
  nonfinite_loss_ = where(unset, where(finite, nonfinite_loss_, value), nonfinite_loss_);
  first_nonfinite_step_ = where(unset, where(finite, first_nonfinite_step_, scalar(double(global_step))), first_nonfinite_step_);
  correct_ = add(correct_, topk_correct_counts(logits, labels, {1}).reshape({}));
  seen_ += n;
  ++steps_;
}

void StepStatistics::add_head(int64_t global_step, const Tensor& eigenvalues, const Tensor& repairs) {
  NoGradGuard no_grad;
  if (eigenvalues.defined() && eigenvalues.numel() > 0) {
    const Tensor l = eigenvalues.detach().to(DType::Float64);
    const int64_t n = l.size(1);
    const Tensor condition = div(l.select(1, 0), l.select(1, n - 1));  // λmax/λmin per sample
    condition_sum_ = add(condition_sum_, sum(condition));
    // A larger maximum than any before (the first sample of equals): remember where it was.
    const Tensor step_max = max(condition);
    const Tensor larger = gt(step_max, condition_max_);
    condition_max_ = where(larger, step_max, condition_max_);
    condition_max_step_ = where(larger, scalar(double(global_step)), condition_max_step_);
    condition_max_sample_ = where(larger, argmax(condition, 0).to(DType::Float64), condition_max_sample_);
    condition_count_ += l.size(0);
  }
  if (repairs.defined()) repairs_sum_ = add(repairs_sum_, repairs.to(DType::Float64).reshape({}));
}

StepFigures StepStatistics::read() const {
  NoGradGuard no_grad;
  const std::vector<Tensor> parts = {loss_sum_, first_loss_, last_loss_, first_nonfinite_step_, nonfinite_loss_,
                                     correct_.to(DType::Float64), condition_sum_, condition_max_,
                                     condition_max_step_, condition_max_sample_, repairs_sum_};
  const std::vector<double> v = to_vector(stack(parts));  // the one wait for the device
  StepFigures f;
  f.steps = steps_, f.seen = seen_, f.condition_count = condition_count_;
  f.loss_sum = v[0], f.first_loss = v[1], f.last_loss = v[2];
  f.first_nonfinite_step = int64_t(v[3]), f.nonfinite_loss = v[4];
  f.correct = int64_t(v[5]);
  f.condition_sum = v[6], f.condition_max = v[7];
  f.condition_max_step = int64_t(v[8]), f.condition_max_sample = int64_t(v[9]);
  f.repairs_sum = v[10];
  return f;
}

}  // namespace dsvd::train
