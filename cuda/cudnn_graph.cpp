// Convolutions through cuDNN's graph (backend) API (cuda/cudnn_graph.h).
//
// One operation graph per pass and shape: the three tensors (NCHW, or all three channels-last as
// Conv2dGeometry says; unique ids 1 = x or dx, 2 = w or dw, 3 = y or dy), the convolution, the
// operation. cuDNN's heuristics (mode A) rank the
// engines; as PyTorch does, engines that down-convert their inputs are skipped, and so are
// tensor-core engines on float32 when TF32 is off; the first that builds a plan within the
// workspace limit is kept (DSVD_CUDNN_BENCHMARK=1: the first kMeasured that build are timed on
// the call's own tensors and the fastest kept). A shape no engine plans is remembered as such,
// said once on stderr, and left to the legacy API (cuda/cudnn.cpp). Plans are cached per device,
// pass, dtype, TF32 setting, choice mode and geometry, with every descriptor they were built from.
#include "cuda/cudnn_graph.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cuda/context.h"
#include "cuda/internal.h"
#include "ops/precision.h"
#include "tensor/memory_format.h"

// The handle attributes of the operation graph and the execution plan are deprecated since cuDNN
// 9.8 in favour of device-property descriptors, and still what ties a plan to a device.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace dsvd::cuda {

using kernels::Conv2dGeometry;

namespace {

constexpr int kMeasured = 8;
constexpr int64_t kAlignment = 16;  // bytes; pointers less aligned take the legacy API

// One backend descriptor, destroyed with its owner. Attribute calls report their status: a graph
// cuDNN cannot build is not an error of the program, only a shape for the legacy API.
class Descriptor {
 public:
  explicit Descriptor(cudnnBackendDescriptorType_t type) { status_ = cudnnBackendCreateDescriptor(type, &d_); }
  ~Descriptor() {
    if (d_) cudnnBackendDestroyDescriptor(d_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;

  cudnnBackendDescriptor_t get() const { return d_; }
  bool ok() const { return status_ == CUDNN_STATUS_SUCCESS; }
  Descriptor& set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count, const void* values) {
    if (ok()) status_ = cudnnBackendSetAttribute(d_, name, type, count, values);
    return *this;
  }
  Descriptor& set(cudnnBackendAttributeName_t name, const Descriptor& other) {
    cudnnBackendDescriptor_t o = other.get();
    return set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &o);
  }
  bool finalize() {
    if (ok()) status_ = cudnnBackendFinalize(d_);
    return ok();
  }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
  cudnnStatus_t status_ = CUDNN_STATUS_SUCCESS;
};
using DescriptorPtr = std::unique_ptr<Descriptor>;

// A 4-D tensor of dims (N, C, H, W), laid out NCHW or channels-last (NHWC in memory); a virtual
// one is an intermediate of a fused graph that never reaches memory.
DescriptorPtr conv_tensor(int64_t uid, std::array<int64_t, 4> dims, cudnnDataType_t type, bool channels_last,
                          bool is_virtual = false) {
  const Shape strides = strides_for({dims[0], dims[1], dims[2], dims[3]},
                                    channels_last ? MemoryFormat::ChannelsLast : MemoryFormat::Contiguous);
  auto t = std::make_unique<Descriptor>(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  t->set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type)
      .set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims.data())
      .set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides.data())
      .set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid)
      .set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &kAlignment);
  if (is_virtual) t->set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual);
  t->finalize();
  return t;
}

// A pointwise operation y = mode(x[, b]) computed in `precision`.
void pointwise(std::vector<DescriptorPtr>& parts, cudnnPointwiseMode_t mode, cudnnDataType_t precision, const Descriptor& x,
               const Descriptor* b, const Descriptor& y) {
  auto pw = std::make_unique<Descriptor>(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
  pw->set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode)
      .set(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &precision);
  pw->finalize();
  auto op = std::make_unique<Descriptor>(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
  op->set(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, *pw)
      .set(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x)
      .set(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y);
  if (b) op->set(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b);
  op->finalize();
  parts.push_back(std::move(pw));
  parts.push_back(std::move(op));
}

// Everything one pass of one shape was built from, and the plan.
struct GraphPlan {
  bool usable = false;
  std::vector<DescriptorPtr> parts;  // tensors, convolution, operation, graph, engine configs
  DescriptorPtr plan;
  int64_t workspace = 0;
};

bool engine_allowed(const Descriptor& config, DType t) {
  Descriptor engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  cudnnBackendDescriptor_t e = engine.get();
  int64_t count = 0;
  if (!engine.ok() ||
      cudnnBackendGetAttribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &count, &e) !=
          CUDNN_STATUS_SUCCESS)
    return false;
  std::array<cudnnBackendNumericalNote_t, CUDNN_NUMERICAL_NOTE_TYPE_COUNT> notes{};
  int64_t n = 0;
  if (cudnnBackendGetAttribute(e, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE, int64_t(notes.size()), &n,
                               notes.data()) != CUDNN_STATUS_SUCCESS)
    return false;
  for (int64_t i = 0; i < n; ++i) {
    if (notes[size_t(i)] == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS) return false;
    if (notes[size_t(i)] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE && t == DType::Float32 && !tf32_conv()) return false;
  }
  return true;
}

struct Pointers {
  void* x;  // x, or dx for the data gradient
  void* w;  // w, or dw for the weights' gradient
  void* y;  // y, or dy for both gradients
  void* bias = nullptr;  // the fused forward's bias (unique id 4), if it has one
};

// Runs `plan` on the pass's tensors with a workspace from the caching allocator.
cudnnStatus_t execute(cudnnHandle_t handle, const Descriptor& plan, int64_t workspace_bytes, const Pointers& p, int device) {
  Tensor workspace = workspace_bytes > 0 ? empty({workspace_bytes}, DType::UInt8, Device::cuda(device)) : Tensor();
  void* ws = workspace.defined() ? workspace.data_ptr() : nullptr;
  std::vector<int64_t> uids = {1, 2, 3};
  std::vector<void*> data = {p.x, p.w, p.y};
  if (p.bias) {
    uids.push_back(4);
    data.push_back(p.bias);
  }
  const int64_t n = int64_t(uids.size());
  Descriptor pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, n, uids.data())
      .set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, n, data.data())
      .set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws);
  if (!pack.finalize()) return CUDNN_STATUS_BAD_PARAM;
  return cudnnBackendExecute(handle, plan.get(), pack.get());
}

// Milliseconds of one run of `plan` (the median of three, after one warm-up).
double time_plan(DeviceContext& c, const Descriptor& plan, int64_t workspace, const Pointers& p) {
  cudaEvent_t start = nullptr, stop = nullptr;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<float> ms;
  for (int run = 0; run < 4; ++run) {
    cudaEventRecord(start, c.stream);
    const cudnnStatus_t status = execute(c.cudnn, plan, workspace, p, c.device);
    cudaEventRecord(stop, c.stream);
    cudaEventSynchronize(stop);
    float t = 0;
    cudaEventElapsedTime(&t, start, stop);
    if (status != CUDNN_STATUS_SUCCESS) t = 1e30f;
    if (run > 0) ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(ms.begin(), ms.end());
  return double(ms[1]);
}

// The operation of each pass and the attributes that name its x (or dx), w (or dw) and y (or dy).
struct PassAttributes {
  cudnnBackendDescriptorType_t operation;
  cudnnBackendAttributeName_t x, w, y, conv, alpha, beta;
};

const PassAttributes& attributes_of(ConvPass pass) {
  static const PassAttributes forward = {
      CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,             CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y,
      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,     CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA};
  static const PassAttributes backward_data = {
      CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,                  CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA};
  static const PassAttributes backward_filter = {
      CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,                 CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA};
  return pass == ConvPass::Forward ? forward : pass == ConvPass::BackwardData ? backward_data : backward_filter;
}

const char* pass_name(ConvPass pass) {
  switch (pass) {
    case ConvPass::Forward: return "forward";
    case ConvPass::BackwardData: return "backward-data";
    case ConvPass::BackwardFilter: return "backward-filter";
    case ConvPass::ForwardBiasRelu: return "forward + bias + ReLU";
  }
  return "?";
}

void build(GraphPlan& out, ConvPass pass, const Conv2dGeometry& g, DType t, DeviceContext& c, const Pointers& p,
           bool measure) {
  const cudnnDataType_t data = cudnn_data_type(t);
  const cudnnDataType_t compute = cudnn_compute_type(t);
  auto keep = [&](DescriptorPtr d) -> Descriptor& {
    out.parts.push_back(std::move(d));
    return *out.parts.back();
  };
  const bool cl = g.channels_last;
  Descriptor& x = keep(conv_tensor(1, {g.batch, g.in_channels, g.height, g.width}, data, cl));
  Descriptor& w = keep(conv_tensor(2, {g.out_channels, g.in_channels / g.groups, g.kernel_h, g.kernel_w}, data, cl));
  Descriptor& y = keep(conv_tensor(3, {g.batch, g.out_channels, g.out_h, g.out_w}, data, cl));
  if (!x.ok() || !w.ok() || !y.ok()) return;

  const int64_t spatial = 2;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  const std::array<int64_t, 2> dilation = {g.dilation_h, g.dilation_w}, stride = {g.stride_h, g.stride_w},
                               padding = {g.pad_h, g.pad_w};
  Descriptor& conv = keep(std::make_unique<Descriptor>(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR));
  conv.set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute)
      .set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode)
      .set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial)
      .set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dilation.data())
      .set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, stride.data())
      .set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, padding.data())
      .set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, padding.data());
  if (!conv.finalize()) return;

  // alpha = 1, beta = 0 in the compute type.
  const double one64 = 1, zero64 = 0;
  const float one32 = 1, zero32 = 0;
  const cudnnBackendAttributeType_t scalar = t == DType::Float64 ? CUDNN_TYPE_DOUBLE : CUDNN_TYPE_FLOAT;
  const void* one = t == DType::Float64 ? static_cast<const void*>(&one64) : &one32;
  const void* zero = t == DType::Float64 ? static_cast<const void*>(&zero64) : &zero32;
  // The fused forward: the convolution into a virtual tensor, + bias (unique id 4) into another,
  // ReLU into y; cuDNN compiles the three into one kernel (runtime fusion) or plans nothing.
  const bool fused = pass == ConvPass::ForwardBiasRelu;
  const std::array<int64_t, 4> y_dims = {g.batch, g.out_channels, g.out_h, g.out_w};
  Descriptor& conv_y = fused ? keep(conv_tensor(5, y_dims, compute, cl, true)) : y;
  const PassAttributes& a = attributes_of(fused ? ConvPass::Forward : pass);
  DescriptorPtr made = std::make_unique<Descriptor>(a.operation);
  made->set(a.x, x).set(a.w, w).set(a.y, conv_y).set(a.conv, conv).set(a.alpha, scalar, 1, one).set(a.beta, scalar, 1, zero);
  Descriptor& op = keep(std::move(made));
  if (!op.finalize()) return;
  std::vector<cudnnBackendDescriptor_t> ops = {op.get()};
  if (fused) {
    const Descriptor* relu_in = &conv_y;
    if (p.bias) {
      Descriptor& bias = keep(conv_tensor(4, {1, g.out_channels, 1, 1}, data, cl));
      Descriptor& biased = keep(conv_tensor(6, y_dims, compute, cl, true));
      pointwise(out.parts, CUDNN_POINTWISE_ADD, compute, conv_y, &bias, biased);
      ops.push_back(out.parts.back()->get());
      relu_in = &biased;
    }
    pointwise(out.parts, CUDNN_POINTWISE_RELU_FWD, compute, *relu_in, nullptr, y);
    ops.push_back(out.parts.back()->get());
    for (const auto& part : out.parts)
      if (!part->ok()) return;
  }

  Descriptor& graph = keep(std::make_unique<Descriptor>(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR));
  cudnnHandle_t handle = c.cudnn;
  graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, int64_t(ops.size()), ops.data())
      .set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
  if (!graph.finalize()) return;

  Descriptor& heuristics = keep(std::make_unique<Descriptor>(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR));
  const cudnnBackendHeurMode_t heur_mode = CUDNN_HEUR_MODE_A;
  heuristics.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph)
      .set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &heur_mode);
  if (!heuristics.finalize()) return;
  int64_t count = 0;
  if (cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count,
                               nullptr) != CUDNN_STATUS_SUCCESS || count <= 0)
    return;
  std::vector<DescriptorPtr> configs;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < count; ++i) {
    configs.push_back(std::make_unique<Descriptor>(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
    raw.push_back(configs.back()->get());
  }
  int64_t returned = 0;
  if (cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count,
                               &returned, raw.data()) != CUDNN_STATUS_SUCCESS)
    return;

  double best_ms = 0;
  int tried = 0;
  for (int64_t i = 0; i < returned && (!out.plan || (measure && tried < kMeasured)); ++i) {
    if (!engine_allowed(*configs[size_t(i)], t)) continue;
    auto plan = std::make_unique<Descriptor>(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    plan->set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle)
        .set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, *configs[size_t(i)]);
    if (!plan->finalize()) continue;
    int64_t ws = 0, n = 0;
    if (cudnnBackendGetAttribute(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n, &ws) !=
            CUDNN_STATUS_SUCCESS ||
        ws > int64_t(kCudnnWorkspaceLimit))
      continue;
    ++tried;
    const double ms = measure ? time_plan(c, *plan, ws, p) : 0;
    if (!out.plan || ms < best_ms) {
      out.plan = std::move(plan);
      out.workspace = ws;
      best_ms = ms;
    }
  }
  for (auto& config : configs) out.parts.push_back(std::move(config));  // the plan was built from one of them
  out.usable = out.plan != nullptr;
}

using GraphKey = std::array<int64_t, 21>;

std::atomic<int64_t> g_runs{0};

}  // namespace

int64_t graph_convolutions_run() { return g_runs.load(); }

cudnnDataType_t cudnn_data_type(DType t) {
  switch (t) {
    case DType::Float32: return CUDNN_DATA_FLOAT;
    case DType::Float64: return CUDNN_DATA_DOUBLE;
    case DType::BFloat16: return CUDNN_DATA_BFLOAT16;
    case DType::Float16: return CUDNN_DATA_HALF;
    default: fail("cuDNN: expects a float dtype, got ", dtype_name(t));
  }
}

cudnnDataType_t cudnn_compute_type(DType t) { return is_reduced_float(t) ? CUDNN_DATA_FLOAT : cudnn_data_type(t); }

bool cudnn_measures_algorithms() {
  const char* env = std::getenv("DSVD_CUDNN_BENCHMARK");
  return env && std::string(env) == "1";
}

CudnnApi cudnn_api() {
  const char* env = std::getenv("DSVD_CUDNN_API");
  const std::string v = env ? env : "";
  DSVD_CHECK(v.empty() || v == "legacy" || v == "graph", "DSVD_CUDNN_API must be legacy or graph, got '", v, "'");
  return v == "graph" ? CudnnApi::Graph : CudnnApi::Legacy;
}

bool graph_convolution(ConvPass pass, const Conv2dGeometry& g, DType t, void* x, void* w, void* y, void* bias) {
  for (const void* ptr : {x, w, y, bias})
    if (reinterpret_cast<uintptr_t>(ptr) % uintptr_t(kAlignment) != 0) return false;
  int device = 0;
  DSVD_CUDA_CHECK("conv2d", cudaGetDevice(&device));
  DeviceContext& c = context(device);
  const bool measure = cudnn_measures_algorithms();
  const GraphKey key = {device,         int64_t(pass), int64_t(t),   tf32_conv(),    measure,      g.batch,
                        g.in_channels,  g.height,      g.width,      g.out_channels, g.kernel_h,   g.kernel_w,
                        g.stride_h,     g.stride_w,    g.pad_h,      g.pad_w,        g.dilation_h, g.dilation_w,
                        g.groups,       g.channels_last, bias != nullptr};
  static std::mutex mutex;
  static std::map<GraphKey, GraphPlan*> plans;
  const Pointers p{x, w, y, bias};
  GraphPlan* plan = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex);
    GraphPlan*& slot = plans[key];
    if (!slot) {
      slot = new GraphPlan;  // cached for the process
      build(*slot, pass, g, t, c, p, measure);
      if (!slot->usable)
        std::fprintf(stderr,
                     "cuDNN graph API: no engine for the %s pass of %lldx%lldx%lldx%lld -> %lld, %lldx%lld/%lld (%s); "
                     "using the legacy API for it\n",
                     pass_name(pass), (long long)g.batch, (long long)g.in_channels, (long long)g.height,
                     (long long)g.width, (long long)g.out_channels, (long long)g.kernel_h, (long long)g.kernel_w,
                     (long long)g.stride_h, dtype_name(t));
    }
    plan = slot;
  }
  if (!plan->usable) return false;
  const cudnnStatus_t status = execute(c.cudnn, *plan->plan, plan->workspace, p, device);
  DSVD_CHECK(status == CUDNN_STATUS_SUCCESS, "conv2d: cuDNN graph API, ", pass_name(pass), " pass: ",
             cudnnGetErrorString(status), " (DSVD_CUDNN_API=legacy takes the legacy API)");
  ++g_runs;
  return true;
}

}  // namespace dsvd::cuda
