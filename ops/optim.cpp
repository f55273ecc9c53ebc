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

// `t` is one contiguous float64 on `device`: a scalar that a kernel reads from device memory.
void check_device_scalar(const char* op, const char* what, const Tensor& t, Device device) {
  DSVD_CHECK(t.defined() && t.numel() == 1 && t.dtype() == DType::Float64 && t.device() == device &&
                 t.is_contiguous(),
             op, ": ", what, " must be one float64 on ", device.str(), " (the device of the tensors it applies to)",
             t.defined() ? ", got " + shape_str(t.sizes()) + " " + dtype_name(t.dtype()) + " on " + t.device().str()
                         : std::string(", got an undefined tensor"));
}

void check_scalars(const SgdDeviceScalars& scalars, Device device) {
  for (const auto& [what, t] : {std::pair<const char*, const Tensor*>{"the learning rate tensor", &scalars.lr},
                                {"the skip flag", &scalars.skip}, {"the started count", &scalars.started}})
    if (t->defined()) check_device_scalar("sgd", what, *t, device);
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

namespace {

// One device and a float dtype for every tensor of a list op; returns that device (the CPU for
// an empty list).
Device check_tensor_list(const char* op, const std::vector<Tensor>& tensors) {
  Device device = Device::cpu();
  for (size_t k = 0; k < tensors.size(); ++k) {
    const Tensor& t = tensors[k];
    DSVD_CHECK(t.defined(), op, ": tensor ", k, " of the list is undefined");
    if (k == 0) device = t.device();
    DSVD_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, op, ": tensor ", k, " is ",
               dtype_name(t.dtype()), "; the list ops take float32 and float64 tensors");
    DSVD_CHECK(t.device() == device, op, ": tensor ", k, " is on ", t.device().str(), ", tensor 0 on ",
               device.str());
  }
  return device;
}

}  // namespace

Tensor sum_of_squares_many(const std::vector<Tensor>& tensors) {
  const Device device = check_tensor_list("sum_of_squares_many", tensors);
  std::vector<Tensor> dense;
  dense.reserve(tensors.size());
  for (const Tensor& t : tensors)
    if (t.numel() > 0) dense.push_back(detail::contiguous_raw(t));
  Tensor out = empty({}, DType::Float64, device);
  kernels::dispatch<kernels::SumOfSquaresManyKernel>(device)(dense, out);
  return out;
}

void scale_many_(const std::vector<Tensor>& tensors, const Tensor& factor, const Tensor& found_non_finite) {
  if (tensors.empty()) return;
  const Device device = check_tensor_list("scale_many_", tensors);
  check_device_scalar("scale_many_", "the factor", factor, device);
  if (found_non_finite.defined()) check_device_scalar("scale_many_", "the non-finite flag", found_non_finite, device);
  std::vector<Tensor> nonempty;
  for (size_t k = 0; k < tensors.size(); ++k) {
    DSVD_CHECK(tensors[k].is_contiguous(), "scale_many_: tensor ", k, " (", shape_str(tensors[k].sizes()),
               ") is not contiguous; the list is scaled in place");
    if (tensors[k].numel() > 0) nonempty.push_back(tensors[k]);
  }
  kernels::dispatch<kernels::ScaleManyKernel>(device)(nonempty, factor, found_non_finite);
}

}  // namespace dsvd
