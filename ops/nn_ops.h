// The neural-network ops: convolution, pooling, batch norm, dropout, linear, softmax and losses.
// Same contract as ops/ops.h: validated inputs, CPU kernels in ops/cpu/, backward recorded.
//
//   conv2d ............................ ops/conv2d.cpp      kernels ops/cpu/conv2d_kernels.cpp
//   max_pool2d avg_pool2d
//   adaptive_avg_pool2d ............... ops/pooling.cpp
//   batch_norm, batch_norm_relu ....... ops/batch_norm.cpp
//   dropout ........................... ops/dropout.cpp
//   linear ............................ ops/linear.cpp
//   log_softmax cross_entropy topk .... ops/loss.cpp
#pragma once
#include <array>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace dsvd {

using Pair = std::array<int64_t, 2>;  // (height, width)

struct Conv2dOptions {
  Pair stride{1, 1};
  Pair padding{0, 0};
  Pair dilation{1, 1};
  int64_t groups = 1;
};

// x (N, C, H, W), weight (O, C/groups, kh, kw), bias (O) or undefined -> (N, O, OH, OW),
// OH = (H + 2·pad − dilation·(kh − 1) − 1)/stride + 1 (floor), as torch.nn.functional.conv2d.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), const Conv2dOptions& options = {});
// relu(conv2d(x, weight, bias)) as one fused op (one kernel forward where the device has one;
// composed elsewhere, with the same values): AlexNet's conv -> ReLU.
Tensor conv2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                   const Conv2dOptions& options = {});

struct Pool2dOptions {
  Pair kernel{1, 1};
  Pair stride{0, 0};  // 0: the kernel size, as PyTorch's default
  Pair padding{0, 0};
  bool ceil_mode = false;
  bool count_include_pad = true;  // avg_pool2d only
};

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options);
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options);
// Bins [floor(i·H/OH), ceil((i+1)·H/OH)) as PyTorch's adaptive pooling.
Tensor adaptive_avg_pool2d(const Tensor& x, Pair output_size);

// Batch normalisation over (N, H, W) per channel (x is (N, C) or (N, C, H, W)).
// Training: normalise with the batch mean and biased variance, and update the running statistics
// in place: running = (1 − momentum)·running + momentum·batch (the unbiased variance for
// running_var), as PyTorch does. Evaluation: normalise with the running statistics.
// weight/bias (C) may be undefined (no affine); running stats may be undefined in training.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// max(0, batch_norm(x) + residual) (residual may be undefined): in training mode one fused op and
// kernel, one pass over memory each way; in evaluation (and on a device without the fused
// kernels) the same three ops composed.
Tensor batch_norm_relu(const Tensor& x, const Tensor& residual, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, bool training, double momentum = 0.1,
                       double eps = 1e-5);

// Zeroes each element with probability p and scales the rest by 1/(1−p) in training; the
// identity in evaluation. The mask comes from `gen` (or the default generator).
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// x (..., in) · weightᵀ (out, in) + bias (out).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

Tensor log_softmax(const Tensor& x, int64_t dim);
// Mean over the batch of −[(1 − ε)·log p_target + ε/C · Σ_c log p_c]; logits (N, C), targets
// int64 (N) in [0, C).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing = 0.0);
// How many rows have their target among the k largest logits, for each k in `ks` (ties: the
// classes before the target count as larger): an int64 (len(ks)) tensor on the logits' device,
// nothing read back; topk_correct reads it.
Tensor topk_correct_counts(const Tensor& logits, const Tensor& targets, const std::vector<int64_t>& ks);
std::vector<int64_t> topk_correct(const Tensor& logits, const Tensor& targets, const std::vector<int64_t>& ks);

}  // namespace dsvd
