// CPU kernels of conv2d: im2col / col2im and the three GEMM passes (forward, grad input,
// grad weight), float32 and float64, contiguous NCHW tensors.
//
// Per sample and group: cols (C/g·kh·kw, OH·OW) = im2col(x); y = W_g · cols (+ bias).
// Backward: dcols = W_gᵀ · dy, dx = col2im(dcols); dW_g += dy · colsᵀ; db = Σ dy.
// A 1×1, stride-1, unpadded convolution uses x itself as cols (no copy). Samples run in parallel
// with one column buffer per thread, reused across calls.
#pragma once
#include "ops/kernels/nn.h"
#include "tensor/tensor.h"

namespace dsvd::cpu {

using kernels::Conv2dGeometry;

void conv2d_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y);
// Any of grad_x, grad_w, grad_b may be undefined (not needed).
void conv2d_backward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& grad_y,
                     const Tensor& grad_x, const Tensor& grad_w, const Tensor& grad_b);

}  // namespace dsvd::cpu
