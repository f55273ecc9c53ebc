// CPU kernels of conv2d: the registered kernels choose between oneDNN (conv2d_onednn.h; float32)
// and im2col / col2im with the three GEMM passes (forward, grad input, grad weight), float32 and
// float64, contiguous NCHW tensors.
//
// Per sample and group: cols (C/g·kh·kw, OH·OW) = im2col(x); y = W_g · cols (+ bias).
// Backward: dcols = W_gᵀ · dy, dx = col2im(dcols); dW_g += dy · colsᵀ; db = Σ dy.
// A 1×1, stride-1, unpadded convolution uses x itself as cols (no copy). Samples run in parallel
// with one column buffer per thread, reused across calls.
#pragma once
#include <map>
#include <string>

#include "ops/kernels/nn.h"
#include "tensor/tensor.h"

namespace dsvd::cpu {

using kernels::Conv2dGeometry;

// The reference path: im2col + GEMM (every dtype, every geometry).
void im2col_conv2d_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias,
                           const Tensor& y);
// Any of grad_x, grad_w, grad_b may be undefined (not needed).
void im2col_conv2d_backward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& grad_y,
                            const Tensor& grad_x, const Tensor& grad_w, const Tensor& grad_b);

// Which CPU path conv2d takes for `dtype` (docs/cpu-performance.md):
//   Auto              float32 when dsvd is built with oneDNN: OneDnn, except the pointwise
//                     convolutions (1x1, stride 1, no groups) on planes of 28x28 or more, which take
//                     Im2col: there the GEMM reads NCHW as it is, where oneDNN pays a reorder to its
//                     blocked layout and back for each tensor (gemm_for_pointwise below).
//   OneDnn            all three passes on oneDNN (DSVD_CPU_CONV=onednn), the
//                     weights' gradient summed over chunks of the batch (conv2d_onednn.cpp), which
//                     keeps its rounding at the im2col GEMM's.
//   OneDnnWholeBatch  the same with oneDNN's weights' gradient over the whole batch
//                     (DSVD_CPU_CONV=onednn-whole-batch): 2–7x the rounding, no faster (measured).
//   Im2col            float64, builds without oneDNN, DSVD_CPU_CONV=im2col, train_imagenet
//                     --deterministic.
enum class CpuConvPath { Im2col, OneDnn, OneDnnWholeBatch, Auto };
CpuConvPath cpu_conv_path(DType dtype);
// Auto's choice for one geometry: true where the im2col GEMM takes it.
bool gemm_for_pointwise(const kernels::Conv2dGeometry& g);
const char* cpu_conv_path_name(CpuConvPath path);
// Pins float32 conv2d to `path` for the rest of the process (train_imagenet --deterministic takes
// im2col: its results do not depend on the thread count or on how a batch is split, oneDNN's do).
void set_cpu_conv_path(CpuConvPath path);

// While profiling (tensor/profiler.h), each pass of each convolution is a profile range named
// "conv2d <pass> <geometry>" and its multiply-adds are summed here under the same name (2 flops
// each), so that a profile can give GFLOP/s per shape (benchmarks/train_step ... profile).
std::map<std::string, double> take_conv_profile_flops();

}  // namespace dsvd::cpu
