#include "nn/optim/grad_scaler.h"

#include <cmath>

#include "ops/ops.h"

namespace dsvd::nn {

GradScaler::GradScaler(GradScalerOptions options) : options_(options), scale_(options.init_scale) {
  DSVD_CHECK(options.init_scale > 0 && std::isfinite(options.init_scale), "GradScaler: init_scale must be positive "
             "and finite, got ", options.init_scale);
  DSVD_CHECK(options.growth_factor > 1, "GradScaler: growth_factor must exceed 1, got ", options.growth_factor);
  DSVD_CHECK(options.backoff_factor > 0 && options.backoff_factor < 1, "GradScaler: backoff_factor must be in (0, 1), "
             "got ", options.backoff_factor);
  DSVD_CHECK(options.growth_interval >= 1, "GradScaler: growth_interval must be >= 1, got ", options.growth_interval);
}

Tensor GradScaler::scale(const Tensor& loss) const {
  DSVD_CHECK(loss.defined() && loss.numel() == 1, "GradScaler::scale: expects the scalar loss");
  return mul(loss, scale_);
}

bool GradScaler::unscale(const std::vector<Tensor>& parameters) {
  if (unscaled_) return found_inf_;
  NoGradGuard no_grad;
  // x·0 is 0 for finite x and NaN for ±inf and NaN: one sum per gradient, one read for all.
  Tensor non_finite;
  const double inverse = 1.0 / scale_;
  for (const Tensor& p : parameters) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor probe = sum(mul(g, 0.0)).to(DType::Float64);
    non_finite = non_finite.defined() ? add(non_finite, probe) : probe;
    p.set_grad(mul(g, inverse));
  }
  found_inf_ = non_finite.defined() && std::isnan(non_finite.item());
  unscaled_ = true;
  return found_inf_;
}

bool GradScaler::step(Sgd& optimizer, const std::vector<Tensor>& parameters) {
  unscale(parameters);
  if (found_inf_) {
    ++skipped_;
    return false;
  }
  optimizer.step();
  return true;
}

void GradScaler::update() {
  DSVD_CHECK(unscaled_, "GradScaler::update: call unscale() or step() first in this step");
  if (found_inf_) {
    scale_ *= options_.backoff_factor;
    growth_tracker_ = 0;
  } else if (++growth_tracker_ == options_.growth_interval) {
    scale_ *= options_.growth_factor;
    growth_tracker_ = 0;
  }
  unscaled_ = found_inf_ = false;
}

NamedTensors GradScaler::state() const {
  return {{"grad_scaler.scale", scalar_tensor(scale_, DType::Float64)},
          {"grad_scaler.growth_tracker", scalar_tensor(double(growth_tracker_), DType::Float64)}};
}

void GradScaler::load_state(const NamedTensors& state) {
  for (const auto& [name, t] : state) {
    if (name == "grad_scaler.scale") {
      DSVD_CHECK(t.numel() == 1 && t.item() > 0 && std::isfinite(t.item()), "GradScaler: checkpoint entry "
                 "grad_scaler.scale must be one positive finite number");
      scale_ = t.item();
    } else if (name == "grad_scaler.growth_tracker") {
      DSVD_CHECK(t.numel() == 1 && t.item() >= 0, "GradScaler: checkpoint entry grad_scaler.growth_tracker must be "
                 "one number >= 0");
      growth_tracker_ = int64_t(t.item());
    }
  }
  skipped_ = 0;
}

}  // namespace dsvd::nn
