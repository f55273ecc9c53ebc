// The CUDA kernels of the neural-network ops: convolutions and batch norm through cuDNN
// (cuda/cudnn.cpp), pooling with dsvd's own kernels (cuda/kernels/pooling.cu) so that window
// rules (ceil_mode, padding, NaN) are exactly the CPU's. Contiguous NCHW tensors; outputs are
// allocated by the caller. In a build without CUDA each throws (cuda/backend_none.cpp).
#pragma once
#include "ops/cpu/conv2d_kernels.h"
#include "tensor/tensor.h"

namespace dsvd::cuda {

using cpu::Conv2dGeometry;
void conv2d_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y);
// Any of grad_x, grad_w, grad_b may be undefined (not needed).
void conv2d_backward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& grad_y,
                     const Tensor& grad_x, const Tensor& grad_w, const Tensor& grad_b);

// Training-mode batch norm over (N, H, W) per channel; updates the running statistics (if
// defined) in place with PyTorch's rule (unbiased variance, factor `momentum`). save_mean and
// save_invstd (C, of the input dtype) are what the backward needs.
void batch_norm_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                         const Tensor& running_var, double momentum, double eps, const Tensor& y,
                         const Tensor& save_mean, const Tensor& save_invstd);
void batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& gamma, const Tensor& save_mean,
                         const Tensor& save_invstd, double eps, const Tensor& grad_x, const Tensor& grad_gamma,
                         const Tensor& grad_beta);

// Pooling windows as ops/pooling.cpp plans them.
struct PoolWindows {
  int64_t planes, height, width, out_h, out_w;
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
};
// indices: uint8 (each window's argmax as ky·kw + kx; windows of at most 256 positions) or int64
// (the flat position in the input plane).
void max_pool2d_forward(const PoolWindows& w, const Tensor& x, const Tensor& y, const Tensor& indices);
void max_pool2d_backward(const PoolWindows& w, const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x);
void avg_pool2d_forward(const PoolWindows& w, bool count_include_pad, const Tensor& x, const Tensor& y);
void avg_pool2d_backward(const PoolWindows& w, bool count_include_pad, const Tensor& grad_y, const Tensor& grad_x);
void adaptive_avg_pool2d_forward(const Tensor& x, const Tensor& y);
void adaptive_avg_pool2d_backward(const Tensor& grad_y, const Tensor& grad_x);

}  // namespace dsvd::cuda
