// Kernel families of the neural-network ops (ops/conv2d.cpp, ops/batch_norm.cpp,
// ops/pooling.cpp, ops/dropout.cpp) and of the optimizer-side ops on lists of gradients (the SGD
// update, the squared norm and the in-place scaling of ops/optim.h). Contiguous NCHW tensors;
// outputs allocated by the op. A kernel registered with kernels::kChannelsLast (ops/kernel_table.h)
// may instead get every 4-D tensor of a call channels-last (NHWC in memory), when the op's input
// was: conv2d's x, w, y and their gradients, batch norm's x, y, residual and their gradients,
// pooling's x, y, argmax codes and their gradients (PoolWindows says which).
#pragma once
#include <cstdint>

#include "ops/optim.h"
#include "tensor/host_device.h"
#include "tensor/tensor.h"

namespace dsvd::kernels {

struct Conv2dGeometry {
  int64_t batch, in_channels, height, width;
  int64_t out_channels, kernel_h, kernel_w;
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, groups;
  int64_t out_h, out_w;
  // Every 4-D tensor of the call channels-last (only for kernels registered kChannelsLast).
  bool channels_last = false;
  bool is_pointwise() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0;
  }
};
// x_workspace: the kernel may leave there (allocated by it; else undefined) the input as it
// computed with it in its own layout (oneDNN's blocked copy of x), which the op saves for the
// backward kernel: the weights' gradient then reads it instead of converting x again.
struct Conv2dForwardKernel {
  static constexpr const char* name = "conv2d";
  static constexpr unsigned float32_outputs = 1u << 4;  // ops/kernels/float32_compute.h
  using Fn = void(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                  Tensor& x_workspace);
};
// Any of grad_x, grad_w, grad_b may be undefined (not needed); x_workspace is the forward's (may
// be undefined).
struct Conv2dBackwardKernel {
  static constexpr const char* name = "conv2d_backward";
  static constexpr unsigned float32_outputs = 1u << 4 | 1u << 5 | 1u << 6;  // ops/kernels/float32_compute.h
  using Fn = void(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& grad_y, const Tensor& grad_x,
                  const Tensor& grad_w, const Tensor& grad_b, const Tensor& x_workspace);
};

// conv2d fused with the ReLU after it (AlexNet's conv -> ReLU): y = max(0, conv(x, w) + bias),
// NaN kept (ReLU's rule, ops/math/elementwise.h), arguments as Conv2dForwardKernel's. A fused
// family (docs/architecture.md): conv2d_relu uses it where the device has it and composes conv2d
// and relu elsewhere. Its backward is conv2d's on ReLU's masked gradient (the two families above).
struct Conv2dReluForwardKernel {
  static constexpr const char* name = "conv2d_relu";
  static constexpr unsigned float32_outputs = 1u << 4;  // ops/kernels/float32_compute.h
  using Fn = void(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                  Tensor& x_workspace);
};

// Batch norm over (N, H, W) per channel, training mode: y, and the batch mean and 1/√(σ² + ε)
// that the kernel allocates into save_mean, save_invstd ((C), in the kernel's statistics dtype:
// float64 on the CPU, the input's on a GPU, as cuDNN keeps them); the running statistics (if
// defined) updated in place with PyTorch's rule (unbiased variance, factor `momentum`). gamma,
// beta may be undefined.
struct BatchNormTrainingKernel {
  static constexpr const char* name = "batch_norm";
  static constexpr unsigned float32_outputs = 1u << 7;  // ops/kernels/float32_compute.h
  using Fn = void(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, double momentum, double eps, const Tensor& y, Tensor& save_mean,
                  Tensor& save_invstd);
};
// dx, dγ, dβ of training mode from the saved statistics; any output may be undefined.
struct BatchNormBackwardKernel {
  static constexpr const char* name = "batch_norm_backward";
  static constexpr unsigned float32_outputs = 1u << 6 | 1u << 7 | 1u << 8;  // ops/kernels/float32_compute.h
  using Fn = void(const Tensor& x, const Tensor& grad_y, const Tensor& gamma, const Tensor& save_mean,
                  const Tensor& save_invstd, double eps, const Tensor& grad_x, const Tensor& grad_gamma,
                  const Tensor& grad_beta);
};

// Batch norm fused with the residual add and the ReLU that follow it in a ResNet block, training
// mode: y = max(0, BN(x) + residual), one pass over memory forward and one backward (the ReLU's
// mask read from y). residual may be undefined (y = max(0, BN(x))). Statistics and running
// statistics as BatchNormTrainingKernel's.
struct BatchNormReluTrainingKernel {
  static constexpr const char* name = "batch_norm_relu";
  static constexpr unsigned float32_outputs = 1u << 8;  // ops/kernels/float32_compute.h
  using Fn = void(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                  const Tensor& running_mean, const Tensor& running_var, double momentum, double eps, const Tensor& y,
                  Tensor& save_mean, Tensor& save_invstd);
};
// dx, dγ, dβ and d(residual) (= dy where y > 0 or y is NaN, else 0) from the saved input, output
// and statistics; any output may be undefined.
struct BatchNormReluBackwardKernel {
  static constexpr const char* name = "batch_norm_relu_backward";
  static constexpr unsigned float32_outputs = 1u << 7 | 1u << 8 | 1u << 9 | 1u << 10;  // ops/kernels/float32_compute.h
  using Fn = void(const Tensor& x, const Tensor& y, const Tensor& grad_y, const Tensor& gamma, const Tensor& save_mean,
                  const Tensor& save_invstd, double eps, const Tensor& grad_x, const Tensor& grad_gamma,
                  const Tensor& grad_beta, const Tensor& grad_residual);
};

// Batch norm in evaluation: y = γ·(x − μ)/√(σ² + ε) + β with the running statistics (constants;
// any float dtype); its backward dx = γ·s·dy, dγ = Σ dy·x̂, dβ = Σ dy (any output undefined
// when not needed).
struct BatchNormInferenceKernel {
  static constexpr const char* name = "batch_norm (evaluation)";
  static constexpr unsigned float32_outputs = 1u << 6;  // ops/kernels/float32_compute.h
  using Fn = void(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, double eps, const Tensor& y);
};
struct BatchNormInferenceBackwardKernel {
  static constexpr const char* name = "batch_norm_backward (evaluation)";
  static constexpr unsigned float32_outputs = 1u << 6 | 1u << 7 | 1u << 8;  // ops/kernels/float32_compute.h
  using Fn = void(const Tensor& x, const Tensor& grad_y, const Tensor& gamma, const Tensor& running_mean,
                  const Tensor& running_var, double eps, const Tensor& grad_x, const Tensor& grad_gamma,
                  const Tensor& grad_beta);
};

// Pooling windows as ops/pooling.cpp plans them (PyTorch's size rules).
struct PoolWindows {
  int64_t planes, height, width, out_h, out_w;
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  // Max pooling's saved argmax: one byte per output (the position ky·kw + kx inside its window)
  // when a window has at most 256 positions, else int64 (the flat position in the input plane).
  bool byte_codes() const { return kernel_h * kernel_w <= 256; }
  // Channels-last tensors (the op chooses it only for a kernel registered kChannelsLast): planes
  // = N·channels, and pixel (y, x) of plane (n, c) at ((n·H + y)·W + x)·channels + c, so that
  // neighbouring pixels of a plane lie `pixel_stride()` elements apart; outputs and the argmax
  // codes in the same order.
  bool channels_last = false;
  int64_t channels = 1;
  DSVD_HOST_DEVICE int64_t pixel_stride() const { return channels_last ? channels : 1; }
};
struct MaxPool2dForwardKernel {
  static constexpr const char* name = "max_pool2d";
  static constexpr unsigned float32_outputs = 1u << 2;  // ops/kernels/float32_compute.h
  using Fn = void(const PoolWindows& w, const Tensor& x, const Tensor& y, const Tensor& indices);
};
struct MaxPool2dBackwardKernel {  // grad_x allocated, not zeroed, by the op
  static constexpr const char* name = "max_pool2d_backward";
  static constexpr unsigned float32_outputs = 1u << 3;  // ops/kernels/float32_compute.h
  using Fn = void(const PoolWindows& w, const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x);
};
struct AvgPool2dForwardKernel {
  static constexpr const char* name = "avg_pool2d";
  static constexpr unsigned float32_outputs = 1u << 3;  // ops/kernels/float32_compute.h
  using Fn = void(const PoolWindows& w, bool count_include_pad, const Tensor& x, const Tensor& y);
};
struct AvgPool2dBackwardKernel {  // grad_x allocated, not zeroed, by the op
  static constexpr const char* name = "avg_pool2d_backward";
  static constexpr unsigned float32_outputs = 1u << 3;  // ops/kernels/float32_compute.h
  using Fn = void(const PoolWindows& w, bool count_include_pad, const Tensor& grad_y, const Tensor& grad_x);
};
struct AdaptiveAvgPool2dForwardKernel {
  static constexpr const char* name = "adaptive_avg_pool2d";
  static constexpr unsigned float32_outputs = 1u << 1;  // ops/kernels/float32_compute.h
  using Fn = void(const Tensor& x, const Tensor& y);
};
struct AdaptiveAvgPool2dBackwardKernel {  // grad_x allocated, not zeroed, by the op
  static constexpr const char* name = "adaptive_avg_pool2d_backward";
  static constexpr unsigned float32_outputs = 1u << 1;  // ops/kernels/float32_compute.h
  using Fn = void(const Tensor& grad_y, const Tensor& grad_x);
};

// out = in · m, m_i = (u_i >= p ? 1/(1 − p) : 0) in in's dtype, u_i element i of
// rand(shape, dtype) for draw `draw` of a generator seeded `seed` (tensor/random.h): the same mask
// on every device, recomputed in forward and backward, never stored. in, out contiguous.
struct DropoutKernel {
  static constexpr const char* name = "dropout";
  static constexpr unsigned float32_outputs = 1u << 0;  // ops/kernels/float32_compute.h
  // draw_base: undefined, or an int64 scalar on the device added to `draw` when the kernel runs
  // (a draw made while recording a graph, tensor/device_graph.h).
  using Fn = void(const Tensor& out, const Tensor& in, uint64_t seed, uint64_t draw, double p, const Tensor& draw_base);
};

// The SGD update in place (math::SgdStep) of many parameters (SgdParamUpdate, ops/optim.h:
// contiguous param, grad and buffer, undefined without momentum; all on one device), with the
// scalars read from device memory (SgdDeviceScalars; math::SgdStep::read_device_scalars): each
// step size is lr_factor, or scalars.lr · lr_factor when given.
struct SgdUpdateKernel {
  static constexpr const char* name = "sgd";
  using Fn = void(const std::vector<SgdParamUpdate>& updates, const SgdDeviceScalars& scalars, double momentum,
                  double dampening, bool nesterov);
};

// out (a float64 scalar on the tensors' device) = Σ over the tensors of Σ_i t_i², in float64, in an
// order fixed by the shapes alone (the same sum whatever the thread count). Tensors contiguous,
// float32 or float64, all on one device; out allocated by the op.
struct SumOfSquaresManyKernel {
  static constexpr const char* name = "sum_of_squares_many";
  using Fn = void(const std::vector<Tensor>& tensors, const Tensor& out);
};
// t ← t · T(factor) in place for every tensor (factor: a float64 scalar on the device, read when the
// kernel runs, rounded once to each tensor's dtype T); found_non_finite, when defined (a float64
// scalar on the device), is set to 1 when an element before scaling is ±inf or NaN and left alone
// otherwise. Tensors contiguous, float32 or float64, all on one device.
struct ScaleManyKernel {
  static constexpr const char* name = "scale_many_";
  using Fn = void(const std::vector<Tensor>& tensors, const Tensor& factor, const Tensor& found_non_finite);
};

}  // namespace dsvd::kernels
