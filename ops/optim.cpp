// ops/optim.h: argument checks, then the device's kernel.
#include "ops/optim.h"

#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/nn.h"

namespace dsvd {

void sgd_update_(const Tensor& param, const Tensor& grad, const Tensor& buffer, double lr, double momentum,
                 double dampening, double weight_decay, bool nesterov, bool first) {
  sgd_update_(param, grad, buffer, Tensor(), lr, momentum, dampening, weight_decay, nesterov, first);
}

void sgd_update_(const Tensor& param, const Tensor& grad, const Tensor& buffer, const Tensor& lr_value,
                 double lr_factor, double momentum, double dampening, double weight_decay, bool nesterov, bool first) {
  DSVD_CHECK(!lr_value.defined() || (lr_value.numel() == 1 && lr_value.dtype() == DType::Float64 &&
                                     lr_value.device() == param.device() && lr_value.is_contiguous()),
             "sgd: the learning rate tensor must be one float64 on the parameter's device (", param.device().str(), ")");
  DSVD_CHECK(param.defined() && grad.defined(), "sgd: parameter or gradient is an undefined tensor");
  DSVD_CHECK(is_floating(param.dtype()) && grad.dtype() == param.dtype(), "sgd: parameter and gradient must share a "
             "float dtype, got ", dtype_name(param.dtype()), " and ", dtype_name(grad.dtype()));
  DSVD_CHECK(grad.device() == param.device() && (!buffer.defined() || buffer.device() == param.device()),
             "sgd: the gradient is on ", grad.device().str(), ", the parameter on ", param.device().str());
  DSVD_CHECK(param.is_contiguous() && (!buffer.defined() || buffer.is_contiguous()), "sgd: parameter and momentum "
             "buffer must be contiguous");
  kernels::dispatch<kernels::SgdUpdateKernel>(param.device())(param, detail::contiguous_raw(grad), buffer, lr_value,
                                                              lr_factor, momentum, dampening, weight_decay, nesterov,
                                                              first);
}

}  // namespace dsvd
