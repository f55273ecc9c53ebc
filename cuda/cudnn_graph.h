// Convolutions through cuDNN's graph (backend) API, beside the legacy API of cuda/cudnn.cpp:
// DSVD_CUDNN_API=graph takes it for every pass it can plan (engines ranked by cuDNN's
// heuristics, or measured with DSVD_CUDNN_BENCHMARK=1), the legacy API for the rest.
#pragma once
#include <cudnn.h>

#include "ops/kernels/nn.h"
#include "tensor/dtype.h"

namespace dsvd::cuda {

// What both cuDNN files share: the cuDNN data type of a dtype (float, double, bfloat16, half)
// and its accumulation type, and whether DSVD_CUDNN_BENCHMARK=1 asks for measured algorithms (read at every call).
constexpr size_t kCudnnWorkspaceLimit = size_t(1) << 30;  // the most workspace a convolution gets
cudnnDataType_t cudnn_data_type(DType t);
// The type a convolution accumulates in: float for the 16-bit dtypes (mixed precision), else t's.
cudnnDataType_t cudnn_compute_type(DType t);
bool cudnn_measures_algorithms();

enum class CudnnApi { Legacy, Graph };
// DSVD_CUDNN_API: legacy (the default) or graph; read at every call, so that a benchmark can
// compare both in one process.
CudnnApi cudnn_api();

enum class ConvPass { Forward, BackwardData, BackwardFilter, ForwardBiasRelu };
// One pass on dense tensors of dtype `t` (NCHW, or channels-last as g says) on the current device, alpha = 1, beta = 0:
// Forward y = conv(x, w); BackwardData x = dx from (w, y = dy); BackwardFilter w = dw from
// (x, y = dy); ForwardBiasRelu y = max(0, conv(x, w) + bias) (bias null: none) as one graph that
// cuDNN's runtime fusion compiles into one kernel. False when the graph API has no plan for it
// (nothing was run: the caller takes the legacy API, or composes); a failure to run a plan it has
// throws.
bool graph_convolution(ConvPass pass, const kernels::Conv2dGeometry& g, DType t, void* x, void* w, void* y,
                       void* bias = nullptr);
// How many passes the graph API has run in this process (tests check that it was taken).
int64_t graph_convolutions_run();

}  // namespace dsvd::cuda
