// Convolutions and batch norm through cuDNN: the CUDA kernels of ops/kernels/nn.h.
//
// Convolution algorithms are chosen once per shape with cuDNN's heuristics (the first one whose
// workspace fits the limit, as PyTorch does with cudnn.benchmark off) and cached; workspaces
// come from the caching allocator. TF32 for float convolutions follows set_tf32_conv (on by
// default, PyTorch's default). With DSVD_CUDNN_BENCHMARK=1 the algorithms are measured instead
// (cudnnFind*), once per shape. DSVD_CUDNN_API=graph takes cuDNN's graph API for every pass it
// can plan (cuda/cudnn_graph.cpp), this file's legacy calls for the rest and for the bias.
#include <cstdlib>
#include <map>
#include <mutex>
#include <array>

#include "cuda/context.h"
#include "cuda/cudnn_graph.h"
#include "cuda/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/elementwise.h"
#include "ops/kernels/nn.h"
#include "ops/precision.h"

namespace dsvd::cuda {

using kernels::Conv2dGeometry;
namespace {

// cuDNN's name for a memory format: NCHW, or NHWC for channels-last (dims are still given N, C, H, W).
cudnnTensorFormat_t cudnn_format(bool channels_last) { return channels_last ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW; }

struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc(DType t, int64_t n, int64_t c, int64_t h, int64_t w, bool channels_last = false) {
    DSVD_CUDNN_CHECK("cudnn", cudnnCreateTensorDescriptor(&d));
    DSVD_CUDNN_CHECK("cudnn", cudnnSetTensor4dDescriptor(d, cudnn_format(channels_last), cudnn_data_type(t), int(n), int(c),
                                                         int(h), int(w)));
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
};

// Everything cuDNN needs for one convolution shape, made once.
struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t fwd{};
  cudnnConvolutionBwdDataAlgo_t bwd_data{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter{};
  size_t fwd_ws = 0, bwd_data_ws = 0, bwd_filter_ws = 0;
  bool have_fwd = false, have_bwd_data = false, have_bwd_filter = false;
};

// What makes two convolutions share a plan: device, dtype, TF32, algorithm choice mode, geometry
// (memory format included).
using PlanKey = std::array<int64_t, 19>;
PlanKey plan_key(const Conv2dGeometry& g, DType t, int device) {
  return {device,       int64_t(t),  tf32_conv(),  cudnn_measures_algorithms(), g.batch,    g.in_channels,
          g.height,     g.width,     g.out_channels, g.kernel_h,      g.kernel_w, g.stride_h,
          g.stride_w,   g.pad_h,     g.pad_w,      g.dilation_h,     g.dilation_w, g.groups, g.channels_last};
}

ConvPlan& plan_for(const Conv2dGeometry& g, DType t, int device) {
  static std::mutex mutex;
  static std::map<PlanKey, ConvPlan*> plans;
  std::lock_guard<std::mutex> lock(mutex);
  ConvPlan*& p = plans[plan_key(g, t, device)];
  if (p) return *p;
  auto* made = new ConvPlan;  // cached for the process
  const cudnnDataType_t dt = cudnn_data_type(t);
  const cudnnTensorFormat_t format = cudnn_format(g.channels_last);  // x, w, y alike (ops/kernels/nn.h)
  DSVD_CUDNN_CHECK("conv2d", cudnnCreateTensorDescriptor(&made->x));
  DSVD_CUDNN_CHECK("conv2d", cudnnSetTensor4dDescriptor(made->x, format, dt, int(g.batch), int(g.in_channels), int(g.height), int(g.width)));
  DSVD_CUDNN_CHECK("conv2d", cudnnCreateTensorDescriptor(&made->y));
  DSVD_CUDNN_CHECK("conv2d", cudnnSetTensor4dDescriptor(made->y, format, dt, int(g.batch), int(g.out_channels), int(g.out_h), int(g.out_w)));
  DSVD_CUDNN_CHECK("conv2d", cudnnCreateTensorDescriptor(&made->bias));
  DSVD_CUDNN_CHECK("conv2d", cudnnSetTensor4dDescriptor(made->bias, format, dt, 1, int(g.out_channels), 1, 1));
  DSVD_CUDNN_CHECK("conv2d", cudnnCreateFilterDescriptor(&made->w));
  DSVD_CUDNN_CHECK("conv2d", cudnnSetFilter4dDescriptor(made->w, dt, format, int(g.out_channels),
                                                       int(g.in_channels / g.groups), int(g.kernel_h), int(g.kernel_w)));
  DSVD_CUDNN_CHECK("conv2d", cudnnCreateConvolutionDescriptor(&made->conv));
  DSVD_CUDNN_CHECK("conv2d", cudnnSetConvolution2dDescriptor(made->conv, int(g.pad_h), int(g.pad_w), int(g.stride_h), int(g.stride_w),
                                                            int(g.dilation_h), int(g.dilation_w), CUDNN_CROSS_CORRELATION,
                                                            cudnn_compute_type(t)));
  DSVD_CUDNN_CHECK("conv2d", cudnnSetConvolutionGroupCount(made->conv, int(g.groups)));
  // Tensor cores: always for the 16-bit dtypes, for float32 as TF32 when allowed.
  const cudnnMathType_t math = is_reduced_float(t)                  ? CUDNN_TENSOR_OP_MATH
                               : t == DType::Float32 && tf32_conv() ? CUDNN_DEFAULT_MATH
                                                                    : CUDNN_FMA_MATH;
  DSVD_CUDNN_CHECK("conv2d", cudnnSetConvolutionMathType(made->conv, math));
  p = made;
  return *p;
}

// The first heuristic result that succeeded and fits the workspace limit.
template <typename Perf, typename Algo>
void pick(const Perf* results, int count, const char* what, Algo& algo, size_t& ws) {
  for (int i = 0; i < count; ++i) {
    if (results[i].status == CUDNN_STATUS_SUCCESS && results[i].memory <= kCudnnWorkspaceLimit) {
      algo = results[i].algo;
      ws = results[i].memory;
      return;
    }
  }
  fail("conv2d: cuDNN offers no ", what, " algorithm for this shape within a ", kCudnnWorkspaceLimit >> 20, " MiB workspace");
}

// The algorithm of one pass, chosen once per plan: measured when DSVD_CUDNN_BENCHMARK=1, else
// cuDNN's heuristics; `measure` and `heuristic` run cudnnFind...Algorithm / cudnnGet..._v7.
template <int kMax, typename Perf, typename Algo, typename Measure, typename Heuristic>
void choose_algorithm(bool& chosen, Algo& algo, size_t& ws, const char* what, Measure measure, Heuristic heuristic) {
  if (chosen) return;
  Perf perf[kMax];
  int found = 0;
  const bool measured = cudnn_measures_algorithms();
  const cudnnStatus_t status = measured ? measure(kMax, &found, perf) : heuristic(kMax, &found, perf);
  if (status != CUDNN_STATUS_SUCCESS)
    throw_cuda_error("conv2d", "cuDNN", measured ? "cudnnFindConvolution*Algorithm" : "cudnnGetConvolution*Algorithm_v7",
                     std::string(what) + " algorithm: " + cudnnGetErrorString(status), __FILE__, __LINE__);
  pick(perf, found, what, algo, ws);
  chosen = true;
}

// The alpha = 1, beta = 0 factors of cuDNN calls, in the compute type of `t` (float for the
// 16-bit dtypes).
struct Factors {
  const void* one;
  const void* zero;
};
Factors factors(DType t) {
  static const double one64 = 1, zero64 = 0;
  static const float one32 = 1, zero32 = 0;
  return t == DType::Float64 ? Factors{&one64, &zero64} : Factors{&one32, &zero32};
}

Tensor workspace(size_t bytes, const Device& d) {
  return bytes ? empty({int64_t(bytes)}, DType::UInt8, d) : Tensor();
}

void* ptr(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }

}  // namespace

// No workspace: cuDNN reads NCHW or channels-last as it is (x_workspace stays undefined).
void conv2d_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                    Tensor& /*x_workspace*/) {
  DeviceContext& c = context(x.device().index);
  ConvPlan& p = plan_for(g, x.dtype(), c.device);
  const auto [one, zero] = factors(x.dtype());
  const bool graph = cudnn_api() == CudnnApi::Graph &&
                     graph_convolution(ConvPass::Forward, g, x.dtype(), x.data_ptr(), w.data_ptr(), y.data_ptr());
  if (!graph) {
    choose_algorithm<CUDNN_CONVOLUTION_FWD_ALGO_COUNT, cudnnConvolutionFwdAlgoPerf_t>(
        p.have_fwd, p.fwd, p.fwd_ws, "forward",
        [&](int n, int* found, auto* perf) { return cudnnFindConvolutionForwardAlgorithm(c.cudnn, p.x, p.w, p.conv, p.y, n, found, perf); },
        [&](int n, int* found, auto* perf) { return cudnnGetConvolutionForwardAlgorithm_v7(c.cudnn, p.x, p.w, p.conv, p.y, n, found, perf); });
    Tensor ws = workspace(p.fwd_ws, x.device());
    DSVD_CUDNN_CHECK("conv2d", cudnnConvolutionForward(c.cudnn, one, p.x, x.data_ptr(), p.w, w.data_ptr(), p.conv, p.fwd,
                                                      ptr(ws), p.fwd_ws, zero, p.y, y.data_ptr()));
  }
  if (!bias.defined()) return;
  if (!g.channels_last) {
    DSVD_CUDNN_CHECK("conv2d", cudnnAddTensor(c.cudnn, one, p.bias, bias.data_ptr(), one, p.y, y.data_ptr()));
    return;
  }
  // Channels-last: y += bias broadcast over (N, H, W) by the element-wise kernel, which walks y in
  // memory order (cudnnAddTensor has been reported slow on NHWC tensors).
  const Tensor broadcast = make_view(bias, y.sizes(), {0, 1, 0, 0}, bias.offset());
  kernels::dispatch<kernels::BinaryKernel>(y.device())(math::BinaryOp::Add, y, y, broadcast);
}

void conv2d_backward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& grad_y,
                     const Tensor& grad_x, const Tensor& grad_w, const Tensor& grad_b, const Tensor& /*x_workspace*/) {
  DeviceContext& c = context(x.device().index);
  ConvPlan& p = plan_for(g, x.dtype(), c.device);
  const auto [one, zero] = factors(x.dtype());
  const bool graph = cudnn_api() == CudnnApi::Graph;
  if (grad_x.defined() &&
      !(graph && graph_convolution(ConvPass::BackwardData, g, x.dtype(), grad_x.data_ptr(), w.data_ptr(), grad_y.data_ptr()))) {
    choose_algorithm<CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, cudnnConvolutionBwdDataAlgoPerf_t>(
        p.have_bwd_data, p.bwd_data, p.bwd_data_ws, "backward-data",
        [&](int n, int* found, auto* perf) { return cudnnFindConvolutionBackwardDataAlgorithm(c.cudnn, p.w, p.y, p.conv, p.x, n, found, perf); },
        [&](int n, int* found, auto* perf) { return cudnnGetConvolutionBackwardDataAlgorithm_v7(c.cudnn, p.w, p.y, p.conv, p.x, n, found, perf); });
    Tensor ws = workspace(p.bwd_data_ws, x.device());
    DSVD_CUDNN_CHECK("conv2d_backward", cudnnConvolutionBackwardData(c.cudnn, one, p.w, w.data_ptr(), p.y, grad_y.data_ptr(), p.conv,
                                                                    p.bwd_data, ptr(ws), p.bwd_data_ws, zero, p.x, grad_x.data_ptr()));
  }
  if (grad_w.defined() &&
      !(graph && graph_convolution(ConvPass::BackwardFilter, g, x.dtype(), x.data_ptr(), grad_w.data_ptr(), grad_y.data_ptr()))) {
    choose_algorithm<CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, cudnnConvolutionBwdFilterAlgoPerf_t>(
        p.have_bwd_filter, p.bwd_filter, p.bwd_filter_ws, "backward-filter",
        [&](int n, int* found, auto* perf) { return cudnnFindConvolutionBackwardFilterAlgorithm(c.cudnn, p.x, p.y, p.conv, p.w, n, found, perf); },
        [&](int n, int* found, auto* perf) { return cudnnGetConvolutionBackwardFilterAlgorithm_v7(c.cudnn, p.x, p.y, p.conv, p.w, n, found, perf); });
    Tensor ws = workspace(p.bwd_filter_ws, x.device());
    DSVD_CUDNN_CHECK("conv2d_backward", cudnnConvolutionBackwardFilter(c.cudnn, one, p.x, x.data_ptr(), p.y, grad_y.data_ptr(), p.conv,
                                                                      p.bwd_filter, ptr(ws), p.bwd_filter_ws, zero, p.w, grad_w.data_ptr()));
  }
  if (grad_b.defined())
    DSVD_CUDNN_CHECK("conv2d_backward", cudnnConvolutionBackwardBias(c.cudnn, one, p.y, grad_y.data_ptr(), zero, p.bias, grad_b.data_ptr()));
}

// conv2d + ReLU (kernels::Conv2dReluForwardKernel): under DSVD_CUDNN_API=graph one kernel where
// cuDNN's runtime fusion plans the graph convolution -> + bias -> ReLU (NaN handling is cuDNN's
// there); else the convolution and ReLU in place on y.
void conv2d_relu_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                         Tensor& x_workspace) {
  if (cudnn_api() == CudnnApi::Graph &&
      graph_convolution(ConvPass::ForwardBiasRelu, g, x.dtype(), x.data_ptr(), w.data_ptr(), y.data_ptr(),
                        bias.defined() ? bias.data_ptr() : nullptr))
    return;
  conv2d_forward(g, x, w, bias, y, x_workspace);
  kernels::dispatch<kernels::UnaryKernel>(y.device())(math::UnaryOp::Relu, y, y, 0, 0);
}

namespace {

// (N, C, H, W) of a 2-D or 4-D batch-norm input.
void bn_dims(const Tensor& x, int64_t& n, int64_t& ch, int64_t& h, int64_t& w) {
  n = x.size(0);
  ch = x.size(1);
  h = x.dim() == 4 ? x.size(2) : 1;
  w = x.dim() == 4 ? x.size(3) : 1;
}

Tensor filled(int64_t n, double v, DType t, const Device& d) {
  Tensor out = empty({n}, t, d);
  fill(out, v);
  return out;
}

}  // namespace

namespace {

// The dtype of batch norm's parameters and statistics for input x: float32 for the 16-bit
// dtypes (cuDNN's own rule for half and bfloat16 data), x's otherwise.
DType bn_statistics_dtype(const Tensor& x) { return is_reduced_float(x.dtype()) ? DType::Float32 : x.dtype(); }

// A 16-bit x that this cuDNN cannot normalise natively (CUDNN_STATUS_NOT_SUPPORTED): the same
// pass on float32 copies in the same memory format, each output rounded once (what the kernel
// table's widening does).
Tensor float32_like(const Tensor& t) { return empty(t.sizes(), DType::Float32, t.device(), memory_format_of(t)); }
Tensor widened(const Tensor& t) {
  if (!t.defined()) return t;
  Tensor out = float32_like(t);
  copy_into(out, t);
  return out;
}

// cuDNN's batch-norm mode for x: the persistent kernels for a channels-last float32 or 16-bit input
// (what PyTorch takes for channels-last training; cuDNN's plain spatial kernels are slow on NHWC),
// plain spatial otherwise (NCHW, float64). Forward and backward of one input agree.
cudnnBatchNormMode_t bn_mode(const Tensor& x) {
  return memory_format_of(x) == MemoryFormat::ChannelsLast && x.dtype() != DType::Float64
             ? CUDNN_BATCHNORM_SPATIAL_PERSISTENT
             : CUDNN_BATCHNORM_SPATIAL;
}

// Batch norm's data descriptor for x (and y, dy, dx, which share its layout): NCHW, or NHWC when
// the op kept a channels-last input so (the kernels below are registered kChannelsLast).
TensorDesc bn_data_desc(const Tensor& x) {
  int64_t n, ch, h, w;
  bn_dims(x, n, ch, h, w);
  return TensorDesc(x.dtype(), n, ch, h, w, memory_format_of(x) == MemoryFormat::ChannelsLast);
}

}  // namespace

void batch_norm_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                         const Tensor& running_var, double momentum, double eps, const Tensor& y,
                         Tensor& save_mean, Tensor& save_invstd) {
  DSVD_CHECK(eps >= CUDNN_BN_MIN_EPSILON, "batch_norm (CUDA): eps ", eps, " is below cuDNN's minimum ", CUDNN_BN_MIN_EPSILON);
  const DType stats = bn_statistics_dtype(x);
  for (const Tensor* t : {&gamma, &beta, &running_mean, &running_var})
    DSVD_CHECK(!t->defined() || t->dtype() == stats, "batch_norm (CUDA): parameters and running statistics of a ",
               dtype_name(x.dtype()), " input must be ", dtype_name(stats), ", got ", dtype_name(t->dtype()));
  DeviceContext& c = context(x.device().index);
  const int64_t ch = x.size(1);
  TensorDesc xd = bn_data_desc(x), pd(stats, 1, ch, 1, 1);
  Tensor g = gamma.defined() ? gamma : filled(ch, 1.0, stats, x.device());
  Tensor b = beta.defined() ? beta : filled(ch, 0.0, stats, x.device());
  save_mean = empty({ch}, stats, x.device());  // cuDNN keeps the statistics in the parameters' dtype
  save_invstd = empty({ch}, stats, x.device());
  const auto [one, zero] = factors(x.dtype());
  const cudnnStatus_t status = cudnnBatchNormalizationForwardTraining(
      c.cudnn, bn_mode(x), one, zero, xd.d, x.data_ptr(), xd.d, y.data_ptr(), pd.d, g.data_ptr(), b.data_ptr(),
      momentum, running_mean.defined() ? running_mean.data_ptr() : nullptr,
      running_var.defined() ? running_var.data_ptr() : nullptr, eps, save_mean.data_ptr(), save_invstd.data_ptr());
  if (status == CUDNN_STATUS_NOT_SUPPORTED && is_reduced_float(x.dtype())) {
    Tensor y32 = float32_like(y);
    batch_norm_training(widened(x), gamma, beta, running_mean, running_var, momentum, eps, y32, save_mean, save_invstd);
    copy_into(y, y32);
    return;
  }
  DSVD_CUDNN_CHECK("batch_norm", status);
}

void batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& gamma, const Tensor& save_mean,
                         const Tensor& save_invstd, double eps, const Tensor& grad_x, const Tensor& grad_gamma,
                         const Tensor& grad_beta) {
  DeviceContext& c = context(x.device().index);
  const DType stats = bn_statistics_dtype(x);
  const int64_t ch = x.size(1);
  TensorDesc xd = bn_data_desc(x), pd(stats, 1, ch, 1, 1);
  Tensor g = gamma.defined() ? gamma : filled(ch, 1.0, stats, x.device());
  // cuDNN computes all three; the ones nobody asked for land in scratch buffers.
  Tensor dx = grad_x.defined() ? grad_x : empty(x.sizes(), x.dtype(), x.device(), memory_format_of(x));
  Tensor dg = grad_gamma.defined() ? grad_gamma : empty({ch}, stats, x.device());
  Tensor db = grad_beta.defined() ? grad_beta : empty({ch}, stats, x.device());
  const auto [one, zero] = factors(x.dtype());
  const cudnnStatus_t status = cudnnBatchNormalizationBackward(
      c.cudnn, bn_mode(x), one, zero, one, zero, xd.d, x.data_ptr(), xd.d, grad_y.data_ptr(), xd.d,
      dx.data_ptr(), pd.d, g.data_ptr(), dg.data_ptr(), db.data_ptr(), eps, save_mean.data_ptr(), save_invstd.data_ptr());
  if (status == CUDNN_STATUS_NOT_SUPPORTED && is_reduced_float(x.dtype())) {
    Tensor dx32 = float32_like(x);
    batch_norm_backward(widened(x), widened(grad_y), gamma, save_mean, save_invstd, eps, dx32, dg, db);
    copy_into(dx, dx32);
    return;
  }
  DSVD_CUDNN_CHECK("batch_norm_backward", status);
}

// cuDNN takes 16-bit tensors natively and channels-last (NHWC) as well as NCHW; batch norm keeps
// float32 parameters and statistics for 16-bit inputs, as cuDNN wants them.
constexpr unsigned kCudnnTraits = kernels::kNativeReducedFloat | kernels::kChannelsLast;
DSVD_REGISTER_KERNEL_WITH_TRAITS(kernels::Conv2dForwardKernel, CUDA, conv2d_forward, kCudnnTraits);
DSVD_REGISTER_KERNEL_WITH_TRAITS(kernels::Conv2dBackwardKernel, CUDA, conv2d_backward, kCudnnTraits);
DSVD_REGISTER_KERNEL_WITH_TRAITS(kernels::Conv2dReluForwardKernel, CUDA, conv2d_relu_forward, kCudnnTraits);
DSVD_REGISTER_KERNEL_WITH_TRAITS(kernels::BatchNormTrainingKernel, CUDA, batch_norm_training, kCudnnTraits);
DSVD_REGISTER_KERNEL_WITH_TRAITS(kernels::BatchNormBackwardKernel, CUDA, batch_norm_backward, kCudnnTraits);

}  // namespace dsvd::cuda
