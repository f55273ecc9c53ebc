// ops/optim.h: argument checks, then the device's kernel.
#include "ops/optim.h"

#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/nn.h"

namespace dsvd {

void sgd_update_(const Tensor& param, const Tensor& grad, const Tensor& buffer, double lr, double momentum,
                 double dampening, double weight_decay, bool nesterov, bool first) {
  sgd_update_(param, grad, buffer, SgdDeviceScalars{}, lr, momentum, dampening, weight_decay, nesterov, first);
}

namespace {

void check_scalars(const SgdDeviceScalars& scalars, Device device) {
  for (const auto& [what, t] : {std::pair<const char*, const Tensor*>{"learning rate", &scalars.lr},
                                {"skip flag", &scalars.skip}, {"started count", &scalars.started}})
    DSVD_CHECK(!t->defined() || (t->numel() == 1 && t->dtype() == DType::Float64 && t->device() == device &&
                                 t->is_contiguous()),
               "sgd: the ", what, " tensor must be one float64 on the parameter's device (", device.str(), ")");
}

void check_update(const Tensor& param, const Tensor& grad, const Tensor& buffer) {
  DSVD_CHECK(param.defined() && grad.defined(), "sgd: parameter or gradient is an undefined tensor");
  DSVD_CHECK(is_floating(param.dtype()) && grad.dtype() == param.dtype(), "sgd: parameter and gradient must share a "
             "float dtype, got ", dtype_name(param.dtype()), " and ", dtype_name(grad.dtype()));
  DSVD_CHECK(grad.device() == param.device() && (!buffer.defined() || buffer.device() == param.device()),
             "sgd: the gradient is on ", grad.device().str(), ", the parameter on ", param.device().str());
  DSVD_CHECK(grad.sizes() == param.sizes() && (!buffer.defined() || buffer.sizes() == param.sizes()),
             "sgd: the parameter has shape ", shape_str(param.sizes()), ", its gradient ", shape_str(grad.sizes()),
             buffer.defined() ? ", its buffer " + shape_str(buffer.sizes()) : std::string());
  DSVD_CHECK(param.is_contiguous() && (!buffer.defined() || buffer.is_contiguous()), "sgd: parameter and momentum "
             "buffer must be contiguous");
}

}  // namespace

void sgd_update_(const Tensor& param, const Tensor& grad, const Tensor& buffer, const SgdDeviceScalars& scalars,
                 double lr_factor, double momentum, double dampening, double weight_decay, bool nesterov, bool first) {
  sgd_update_many_({{param, grad, buffer, lr_factor, weight_decay, first}}, scalars, momentum, dampening, nesterov);
}

void sgd_update_many_(const std::vector<SgdParamUpdate>& updates, const SgdDeviceScalars& scalars, double momentum,
                      double dampening, bool nesterov) {
  if (updates.empty()) return;
  const Device device = updates.front().param.device();
  check_scalars(scalars, device);
  std::vector<SgdParamUpdate> dense = updates;
  for (SgdParamUpdate& u : dense) {
    check_update(u.param, u.grad, u.buffer);
    DSVD_CHECK(u.param.device() == device, "sgd: one update's parameters are on ", device.str(), " and ",
               u.param.device().str());
    u.grad = detail::contiguous_raw(u.grad);
  }
  kernels::dispatch<kernels::SgdUpdateKernel>(device)(dense, scalars, momentum, dampening, nesterov);
}

}  // namespace dsvd
