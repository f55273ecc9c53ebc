#include "nn/optim/grad_scaler.h"

#include <cmath>

#include "nn/optim/gradient_list.h"
#include "ops/ops.h"
#include "ops/optim.h"

namespace dsvd::nn {

GradScaler::GradScaler(GradScalerOptions options) : options_(options) {
  DSVD_CHECK(options.init_scale > 0 && std::isfinite(options.init_scale), "GradScaler: init_scale must be positive "
             "and finite, got ", options.init_scale);
  DSVD_CHECK(options.growth_factor > 1, "GradScaler: growth_factor must exceed 1, got ", options.growth_factor);
  DSVD_CHECK(options.backoff_factor > 0 && options.backoff_factor < 1, "GradScaler: backoff_factor must be in (0, 1), "
             "got ", options.backoff_factor);
  DSVD_CHECK(options.growth_interval >= 1, "GradScaler: growth_interval must be >= 1, got ", options.growth_interval);
  scale_ = scalar_tensor(options.init_scale, DType::Float64);
  growth_tracker_ = scalar_tensor(0.0, DType::Float64);
  found_inf_ = scalar_tensor(0.0, DType::Float64);
  skipped_ = scalar_tensor(0.0, DType::Float64);
}

void GradScaler::place_on(Device device) {
  if (scale_.device() == device) return;
  for (Tensor* t : {&scale_, &growth_tracker_, &found_inf_, &skipped_}) *t = t->to(device);
}

Tensor GradScaler::scale(const Tensor& loss) {
  DSVD_CHECK(loss.defined() && loss.numel() == 1, "GradScaler::scale: expects the scalar loss");
  place_on(loss.device());
  // S is a float64 scalar: rounded once to the loss's dtype, as a number would be.
  return mul(loss, scale_.to(loss.dtype()));
}

void GradScaler::unscale_(const std::vector<Tensor>& parameters) {
  if (unscaled_) return;
  NoGradGuard no_grad;
  const std::vector<Tensor> grads = contiguous_gradients(parameters);
  if (!grads.empty()) place_on(grads.front().device());
  // Each gradient times 1/S (computed in double, rounded once to the gradient's dtype), in place,
  // with the verdict set where an element was ±inf or NaN: one pass, a few launches.
  fill_(found_inf_, 0.0);
  if (!grads.empty()) scale_many_(grads, rdiv(scale_, 1.0), found_inf_);
  unscaled_ = true;
}

void GradScaler::step(Sgd& optimizer, const std::vector<Tensor>& parameters) {
  unscale_(parameters);
  optimizer.step(found_inf_);
  copy_(skipped_, add(skipped_, found_inf_));
}

void GradScaler::update() {
  DSVD_CHECK(unscaled_, "GradScaler::update: call unscale_() or step() first in this step");
  // Without a skip the tracker counts on, and at growth_interval the scale grows and the tracker
  // restarts; after a skip the scale backs off and the tracker restarts.
  const Device d = scale_.device();
  auto number = [&](double v) { return full({}, v, DType::Float64, d); };
  const Tensor tracker = mul(add(growth_tracker_, 1.0), rsub(found_inf_, 1.0));  // 0 after a skip
  const Tensor grow = ge(tracker, double(options_.growth_interval));
  const Tensor factor = where(gt(found_inf_, 0.5), number(options_.backoff_factor),
                              where(grow, number(options_.growth_factor), number(1.0)));
  copy_(scale_, mul(scale_, factor));
  copy_(growth_tracker_, where(grow, number(0.0), tracker));
  unscaled_ = false;
}

bool GradScaler::found_inf() const { return found_inf_.item() != 0; }
double GradScaler::current_scale() const { return scale_.item(); }
int64_t GradScaler::skipped_steps() const { return int64_t(skipped_.item()); }

NamedTensors GradScaler::state() const {
  return {{"grad_scaler.scale", scale_.to(Device::cpu()).clone()},
          {"grad_scaler.growth_tracker", growth_tracker_.to(Device::cpu()).clone()}};
}

void GradScaler::load_state(const NamedTensors& state) {
  for (const auto& [name, t] : state) {
    if (name == "grad_scaler.scale") {
      DSVD_CHECK(t.numel() == 1 && t.item() > 0 && std::isfinite(t.item()), "GradScaler: checkpoint entry "
                 "grad_scaler.scale must be one positive finite number");
      fill_(scale_, t.item());
    } else if (name == "grad_scaler.growth_tracker") {
      DSVD_CHECK(t.numel() == 1 && t.item() >= 0, "GradScaler: checkpoint entry grad_scaler.growth_tracker must be "
                 "one number >= 0");
      fill_(growth_tracker_, std::floor(t.item()));
    }
  }
  fill_(skipped_, 0.0);
}

}  // namespace dsvd::nn
