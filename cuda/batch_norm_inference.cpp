// Batch norm in evaluation on a GPU (ops/kernels/nn.h), composed of other kernels through ops
// (untracked): y = x·scale + shift with scale = γ/√(σ² + ε), shift = β − μ·scale; backward
// dx = dy·scale, dγ = Σ dy·(x − μ)/√(σ² + ε), dβ = Σ dy over (N, H, W).
#include "autograd/grad_mode.h"
#include "ops/kernel_table.h"
#include "ops/kernels/nn.h"
#include "ops/ops.h"

namespace dsvd::cuda {
namespace {

// A per-channel vector (C) as a tensor that broadcasts over x's (N, C[, H, W]).
Tensor per_channel(const Tensor& v, const Tensor& x) {
  Shape shape(size_t(x.dim()), 1);
  shape[1] = x.size(1);
  return v.reshape(shape);
}

Tensor inverse_std(const Tensor& running_var, const Tensor& x, double eps) {
  return rdiv(sqrt(add(running_var.to(x.dtype()), eps)), 1.0);
}

void batch_norm_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                          const Tensor& running_var, double eps, const Tensor& y) {
  NoGradGuard untracked;
  Tensor inv = inverse_std(running_var, x, eps);
  Tensor scale = gamma.defined() ? mul(gamma, inv) : inv;
  Tensor shift = mul(running_mean.to(x.dtype()), scale);
  shift = beta.defined() ? sub(beta, shift) : neg(shift);
  copy_(y, add(mul(x, per_channel(scale, x)), per_channel(shift, x)));
}

void batch_norm_inference_backward(const Tensor& x, const Tensor& grad_y, const Tensor& gamma,
                                   const Tensor& running_mean, const Tensor& running_var, double eps,
                                   const Tensor& grad_x, const Tensor& grad_gamma, const Tensor& grad_beta) {
  NoGradGuard untracked;
  Tensor inv = inverse_std(running_var, x, eps);
  Shape reduced = x.dim() == 4 ? Shape{0, 2, 3} : Shape{0};
  if (grad_x.defined()) copy_(grad_x, mul(grad_y, per_channel(gamma.defined() ? mul(gamma, inv) : inv, x)));
  if (grad_gamma.defined()) {
    Tensor x_hat = mul(sub(x, per_channel(running_mean.to(x.dtype()), x)), per_channel(inv, x));
    copy_(grad_gamma, sum(mul(grad_y, x_hat), reduced));
  }
  if (grad_beta.defined()) copy_(grad_beta, sum(grad_y, reduced));
}

}  // namespace

// Composed of element-wise ops, which follow their inputs' memory format: channels-last as well.
DSVD_REGISTER_KERNEL_WITH_TRAITS(kernels::BatchNormInferenceKernel, CUDA, batch_norm_inference, kernels::kChannelsLast);
DSVD_REGISTER_KERNEL_WITH_TRAITS(kernels::BatchNormInferenceBackwardKernel, CUDA, batch_norm_inference_backward,
                                 kernels::kChannelsLast);

}  // namespace dsvd::cuda
