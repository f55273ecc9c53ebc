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

void sgd_update_(const Tensor& param, const Tensor& grad, const Tensor& buffer, const SgdDeviceScalars& scalars,
                 double lr_factor, double momentum, double dampening, double weight_decay, bool nesterov, bool first) {
  for (const auto& [what, t] : {std::pair<const char*, const Tensor*>{"learning rate", &scalars.lr},
                                {"skip flag", &scalars.skip}, {"started count", &scalars.started}})
    DSVD_CHECK(!t->defined() || (t->numel() == 1 && t->dtype() == DType::Float64 && t->device() == param.device() &&
                                 t->is_contiguous()),
               "sgd: the ", what, " tensor must be one float64 on the parameter's device (", param.device().str(), ")");
  DSVD_CHECK(param.defined() && grad.defined(), "sgd: parameter or gradient is an undefined tensor");
  DSVD_CHECK(is_floating(param.dtype()) && grad.dtype() == param.dtype(), "sgd: parameter and gradient must share a "
             "float dtype, got ", dtype_name(param.dtype()), " and ", dtype_name(grad.dtype()));
  DSVD_CHECK(grad.device() == param.device() && (!buffer.defined() || buffer.device() == param.device()),
             "sgd: the gradient is on ", grad.device().str(), ", the parameter on ", param.device().str());
  DSVD_CHECK(param.is_contiguous() && (!buffer.defined() || buffer.is_contiguous()), "sgd: parameter and momentum "
             "buffer must be contiguous");
  kernels::dispatch<kernels::SgdUpdateKernel>(param.device())(param, detail::contiguous_raw(grad), buffer, scalars,
                                                              lr_factor, momentum, dampening, weight_decay, nesterov,
                                                              first);
}

}  // namespace dsvd
