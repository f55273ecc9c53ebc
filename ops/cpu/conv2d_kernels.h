// CPU kernels of conv2d: im2col / col2im and the three GEMM passes (forward, grad input,
// grad weight), float32 and float64, contiguous NCHW tensors.
//
// Per sample and group: cols (C/g·kh·kw, OH·OW) = im2col(x); y = W_g · cols (+ bias).
// Backward: dcols = W_gᵀ · dy, dx = col2im(dcols); dW_g += dy · colsᵀ; db = Σ dy.
// A 1×1, stride-1, unpadded convolution uses x itself as cols (no copy). Samples run in parallel
// with one column buffer per thread, reused across calls.
#pragma once
#include "tensor/tensor.h"

namespace dsvd::cpu {

struct Conv2dGeometry {
  int64_t batch, in_channels, height, width;
  int64_t out_channels, kernel_h, kernel_w;
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, groups;
  int64_t out_h, out_w;
  bool is_pointwise() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0;
  }
};

void conv2d_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y);
// Any of grad_x, grad_w, grad_b may be undefined (not needed).
void conv2d_backward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& grad_y,
                     const Tensor& grad_x, const Tensor& grad_w, const Tensor& grad_b);

}  // namespace dsvd::cpu
