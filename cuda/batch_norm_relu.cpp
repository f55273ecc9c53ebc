// Batch norm fused with the residual add and the ReLU after it, training mode, on a GPU
// (kernels::BatchNormReluTrainingKernel and BatchNormReluBackwardKernel; the formulas are in the
// header of ops/batch_norm.cpp):
//   forward   y = max(0, γ·x̂ + β + r)
//   backward  g = dy where y > 0 or y is NaN, else 0;  dr = g;  dx, dγ, dβ batch norm's from g
// Two ways, chosen per call:
//   - by default, cuDNN's batch norm (the table's kernels) with the add and the ReLU applied in
//     place on y; backward ReLU's mask (into dr when it is wanted) then cuDNN's batch-norm
//     backward: the arithmetic of the three ops, without their extra tensors and tracked ops;
//   - with DSVD_CUDA_FUSED_BN=1, dsvd's own fused kernels (cuda/kernels/batch_norm_relu.cu), one
//     pass over memory each way after the per-channel sums. Opt-in until a GPU run has measured
//     them against cuDNN (tools/gpu-check, gpu_train_step's "fused-bn" rows).
#include <cstdlib>
#include <string>

#include "cuda/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/elementwise.h"
#include "ops/kernels/nn.h"

namespace dsvd::cuda {
namespace {

bool own_kernels() {
  const char* env = std::getenv("DSVD_CUDA_FUSED_BN");
  return env && std::string(env) == "1";
}

void batch_norm_relu_training(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                              const Tensor& running_mean, const Tensor& running_var, double momentum, double eps,
                              const Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  if (own_kernels()) {
    fused_batch_norm_relu_forward(x, residual, gamma, beta, running_mean, running_var, momentum, eps, y, save_mean,
                                  save_invstd);
    return;
  }
  const Device d = x.device();
  kernels::dispatch<kernels::BatchNormTrainingKernel>(d)(x, gamma, beta, running_mean, running_var, momentum, eps, y,
                                                         save_mean, save_invstd);
  if (residual.defined()) kernels::dispatch<kernels::BinaryKernel>(d)(math::BinaryOp::Add, y, y, residual);
  kernels::dispatch<kernels::UnaryKernel>(d)(math::UnaryOp::Relu, y, y, 0, 0);
}

void batch_norm_relu_backward(const Tensor& x, const Tensor& y, const Tensor& grad_y, const Tensor& gamma,
                              const Tensor& save_mean, const Tensor& save_invstd, double eps, const Tensor& grad_x,
                              const Tensor& grad_gamma, const Tensor& grad_beta, const Tensor& grad_residual) {
  if (own_kernels()) {
    fused_batch_norm_relu_backward(x, y, grad_y, gamma, save_mean, save_invstd, grad_x, grad_gamma, grad_beta,
                                   grad_residual);
    return;
  }
  const Device d = x.device();
  // g = dy masked by the ReLU, written into the residual's gradient when it is wanted (it is g).
  Tensor masked = grad_residual.defined() ? grad_residual : empty(y.sizes(), y.dtype(), d, memory_format_of(y));
  kernels::dispatch<kernels::ReluBackwardKernel>(d)(masked, y, grad_y);
  if (grad_x.defined() || grad_gamma.defined() || grad_beta.defined())
    kernels::dispatch<kernels::BatchNormBackwardKernel>(d)(x, masked, gamma, save_mean, save_invstd, eps, grad_x,
                                                           grad_gamma, grad_beta);
}

}  // namespace

// NCHW and channels-last, the 16-bit floats natively (float32 statistics and parameters), both ways.
DSVD_REGISTER_KERNEL_WITH_TRAITS(kernels::BatchNormReluTrainingKernel, CUDA, batch_norm_relu_training,
                                 kernels::kNativeReducedFloat | kernels::kChannelsLast);
DSVD_REGISTER_KERNEL_WITH_TRAITS(kernels::BatchNormReluBackwardKernel, CUDA, batch_norm_relu_backward,
                                 kernels::kNativeReducedFloat | kernels::kChannelsLast);

}  // namespace dsvd::cuda
