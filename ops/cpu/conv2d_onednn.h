// conv2d through oneDNN (conv2d_onednn.cpp), float32, contiguous NCHW tensors and (G,)OIHW weights,
// the same contract as the im2col kernels of conv2d_kernels.h. Built only with oneDNN
// (libdnnl-dev); without it onednn_available() is false and the calls throw.
#pragma once
#include "ops/kernels/nn.h"
#include "tensor/tensor.h"

namespace dsvd::cpu {

using kernels::Conv2dGeometry;

bool onednn_available();
// x_workspace (when not null): where the forward leaves x in the layout its kernel read it in, when
// that is not NCHW (undefined otherwise); the backward given it reads x's chunks from there
// instead of converting x again (Conv2dForwardKernel's workspace, ops/kernels/nn.h).
void onednn_conv2d_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias,
                           const Tensor& y, Tensor* x_workspace = nullptr);
// Any of grad_x, grad_w, grad_b may be undefined (not needed). With `chunked_weights` the
// weights' and bias' gradients are summed over chunks of the batch (conv2d_onednn.cpp says why).
void onednn_conv2d_backward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& grad_y,
                            const Tensor& grad_x, const Tensor& grad_w, const Tensor& grad_b, bool chunked_weights,
                            const Tensor& x_workspace = Tensor());

}  // namespace dsvd::cpu
