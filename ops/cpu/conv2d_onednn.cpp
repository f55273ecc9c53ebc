// conv2d on the CPU through oneDNN (docs/cpu-performance.md "Convolutions"): the engine PyTorch's
// CPU convolutions run on, behind dsvd's conv2d kernels (conv2d_kernels.cpp chooses it for
// float32 when dsvd is built with oneDNN; float64 and DSVD_CPU_CONV=im2col take the im2col path,
// which the tests compare this one against).
//
// For each geometry a plan is made once and cached: the forward, backward-data and
// backward-weights primitives, created with `any` memory formats so that oneDNN picks its
// blocked layouts (nChw16c and the like) and its AVX-512/AVX2 JIT kernels. dsvd's tensors stay
// NCHW: each call reorders what it reads into the chosen layout and the result back, through
// buffers from dsvd's own allocator (which caches blocks, so the reorders fault no pages).
#include "ops/cpu/conv2d_onednn.h"

#include <dnnl.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "ops/cpu/flop_counter.h"
#include "ops/ops.h"

namespace dsvd::cpu {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

struct Plan {
  dnnl::memory::desc src, weights, bias, dst;  // dsvd's layouts: NCHW, (G,)OIHW, O
  dnnl::convolution_forward::primitive_desc forward_pd;
  dnnl::convolution_forward forward;
  dnnl::convolution_backward_data::primitive_desc data_pd;
  dnnl::convolution_backward_data backward_data;
  dnnl::convolution_backward_weights::primitive_desc weights_pd;  // with the bias gradient
  dnnl::convolution_backward_weights backward_weights;
};

using Key = std::array<int64_t, 16>;

Key key_of(const Conv2dGeometry& g) {
  return {g.batch,  g.in_channels, g.height, g.width,  g.out_channels, g.kernel_h,   g.kernel_w,   g.stride_h,
          g.stride_w, g.pad_h,     g.pad_w,  g.dilation_h, g.dilation_w, g.groups, g.out_h, g.out_w};
}

std::unique_ptr<Plan> make_plan(const Conv2dGeometry& g) {
  auto plan = std::make_unique<Plan>();
  const dnnl::memory::dims src_dims = {g.batch, g.in_channels, g.height, g.width};
  const dnnl::memory::dims dst_dims = {g.batch, g.out_channels, g.out_h, g.out_w};
  const dnnl::memory::dims weight_dims =
      g.groups == 1 ? dnnl::memory::dims{g.out_channels, g.in_channels, g.kernel_h, g.kernel_w}
                    : dnnl::memory::dims{g.groups, g.out_channels / g.groups, g.in_channels / g.groups, g.kernel_h,
                                         g.kernel_w};
  plan->src = {src_dims, dt::f32, tag::nchw};
  plan->dst = {dst_dims, dt::f32, tag::nchw};
  plan->weights = {weight_dims, dt::f32, g.groups == 1 ? tag::oihw : tag::goihw};
  plan->bias = {{g.out_channels}, dt::f32, tag::x};
  const dnnl::memory::desc src_any(src_dims, dt::f32, tag::any), dst_any(dst_dims, dt::f32, tag::any),
      weights_any(weight_dims, dt::f32, tag::any);
  const dnnl::memory::dims strides = {g.stride_h, g.stride_w}, dilates = {g.dilation_h - 1, g.dilation_w - 1};
  const dnnl::memory::dims pad_l = {g.pad_h, g.pad_w};
  // The far padding that makes oneDNN's output size dsvd's (it may be smaller than pad_l).
  const dnnl::memory::dims pad_r = {(g.out_h - 1) * g.stride_h + (g.kernel_h - 1) * g.dilation_h + 1 - g.height - g.pad_h,
                                    (g.out_w - 1) * g.stride_w + (g.kernel_w - 1) * g.dilation_w + 1 - g.width - g.pad_w};
  const auto algorithm = dnnl::algorithm::convolution_direct;
  dnnl::convolution_forward::desc forward(dnnl::prop_kind::forward_training, algorithm, src_any, weights_any, plan->bias,
                                          dst_any, strides, dilates, pad_l, pad_r);
  plan->forward_pd = dnnl::convolution_forward::primitive_desc(forward, engine());
  plan->forward = dnnl::convolution_forward(plan->forward_pd);
  dnnl::convolution_backward_data::desc data(algorithm, src_any, weights_any, dst_any, strides, dilates, pad_l, pad_r);
  plan->data_pd = dnnl::convolution_backward_data::primitive_desc(data, engine(), plan->forward_pd);
  plan->backward_data = dnnl::convolution_backward_data(plan->data_pd);
  dnnl::convolution_backward_weights::desc weights(algorithm, src_any, weights_any, plan->bias, dst_any, strides, dilates,
                                                   pad_l, pad_r);
  plan->weights_pd = dnnl::convolution_backward_weights::primitive_desc(weights, engine(), plan->forward_pd);
  plan->backward_weights = dnnl::convolution_backward_weights(plan->weights_pd);
  return plan;
}

Plan& plan_for(const Conv2dGeometry& g) {
  static std::mutex mutex;
  static std::map<Key, std::unique_ptr<Plan>> plans;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = plans[key_of(g)];
  if (!slot) slot = make_plan(g);
  return *slot;
}

// A tensor's data as oneDNN memory in `layout`, reordered into `wanted` (in a buffer from dsvd's
// allocator, kept alive by `keep`) when the primitive chose another layout.
dnnl::memory as_input(const dnnl::memory::desc& layout, const dnnl::memory::desc& wanted, void* data,
                      dnnl::stream& stream, std::vector<Tensor>& keep) {
  dnnl::memory user(layout, engine(), data);
  if (wanted == layout) return user;
  keep.push_back(empty({int64_t(wanted.get_size())}, DType::UInt8));
  dnnl::memory converted(wanted, engine(), keep.back().data_ptr());
  dnnl::reorder(user, converted).execute(stream, user, converted);
  return converted;
}

// Where a primitive writes an output that dsvd wants in `layout` at `data`: there directly, or
// into a buffer to be reordered by finish_output.
struct Output {
  dnnl::memory user, computed;
};
Output as_output(const dnnl::memory::desc& layout, const dnnl::memory::desc& produced, void* data,
                 std::vector<Tensor>& keep) {
  dnnl::memory user(layout, engine(), data);
  if (produced == layout) return {user, user};
  keep.push_back(empty({int64_t(produced.get_size())}, DType::UInt8));
  return {user, dnnl::memory(produced, engine(), keep.back().data_ptr())};
}
void finish_output(Output& out, dnnl::stream& stream) {
  if (out.computed.get() != out.user.get()) dnnl::reorder(out.computed, out.user).execute(stream, out.computed, out.user);
}

// The multiply-adds of one pass (forward, backward-data or backward-weights), counted as the
// GEMM of the im2col path would count them: benchmarks report FLOP/s the same way for both paths.
void count_pass(const Conv2dGeometry& g) {
  count_gemm(g.out_channels, g.batch * g.out_h * g.out_w, g.in_channels / g.groups * g.kernel_h * g.kernel_w);
}

// A whole batch already in a primitive's layout — dy in the input gradient's, x in the forward's
// (its workspace) — which a chunk of the weights' gradient can read in place when its own layout
// is that one's slice.
struct Reordered {
  dnnl::memory::desc desc;
  void* data = nullptr;
};

// The chunk [n0, n0 + chunk desc's batch) of `whole` as memory in `wanted`, when `wanted` is
// exactly that slice's layout (the batch outermost and unblocked, as in nChw16c); else null.
std::optional<dnnl::memory> slice_of(const Reordered& whole, const dnnl::memory::desc& wanted, int64_t n0) {
  if (!whole.data || whole.desc.data.format_kind != dnnl_blocked) return std::nullopt;
  dnnl::memory::dims dims = wanted.dims(), zero(dims.size(), 0);
  dnnl::memory::desc slice;
  try {
    slice = whole.desc.submemory_desc(dims, zero);
  } catch (const dnnl::error&) {
    return std::nullopt;  // not expressible as a slice (a blocked batch dimension)
  }
  if (slice != wanted) return std::nullopt;
  const int64_t sample_bytes = whole.desc.data.format_desc.blocking.strides[0] * int64_t(sizeof(float));
  return dnnl::memory(wanted, engine(), static_cast<char*>(whole.data) + n0 * sample_bytes);
}

// total += part over n floats.
void add_floats(float* total, const float* part, int64_t n) {
  for (int64_t i = 0; i < n; ++i) total[i] += part[i];
}

// The weights' gradient sums N·OH·OW products per weight. oneDNN's kernel runs that sum over the
// whole batch in float32 chains, with 4–7x the rounding of the im2col GEMM at batch 128 (measured
// against float64: docs/cpu-performance.md). `chunked` runs it on chunks of at most
// kReductionPositions positions (the im2col path's own chunk) and adds the chunks' results, which
// brings the rounding back to the GEMM's. The chunks add up in the kernel's own weight layout and
// are reordered to OIHW once; x and dy are read from `reordered_x` and `reordered_dy` where that
// fits.
void onednn_weight_gradient(const Conv2dGeometry& g, const Tensor& x, const Tensor& grad_y, const Tensor& grad_w,
                            const Tensor& grad_b, bool chunked, const Reordered& reordered_x,
                            const Reordered& reordered_dy) {
  constexpr int64_t kReductionPositions = 2048;
  const int64_t positions = g.out_h * g.out_w;
  const int64_t chunk = chunked ? std::clamp<int64_t>(kReductionPositions / positions, 1, g.batch) : g.batch;
  const int64_t x_sample = g.in_channels * g.height * g.width, dy_sample = g.out_channels * positions;
  const Shape w_shape = {g.out_channels, g.in_channels / g.groups, g.kernel_h, g.kernel_w};
  Tensor w_out = grad_w.defined() ? grad_w : empty(w_shape);
  Tensor b_out = grad_b.defined() ? grad_b : empty({g.out_channels});
  Tensor b_part;
  dnnl::stream stream(engine());
  // The sum in the first chunk's weight layout (w_out itself when that is OIHW).
  Conv2dGeometry first_geometry = g;
  first_geometry.batch = chunk;
  const Plan& first_plan = plan_for(first_geometry);
  const dnnl::memory::desc sum_desc = first_plan.weights_pd.diff_weights_desc();
  std::vector<Tensor> keep_sum;
  Output sum = as_output(first_plan.weights, sum_desc, w_out.data_ptr(), keep_sum);
  Tensor part;  // a later chunk's weights' gradient
  for (int64_t n0 = 0; n0 < g.batch; n0 += chunk) {
    Conv2dGeometry gc = g;
    gc.batch = std::min(chunk, g.batch - n0);
    Plan& p = plan_for(gc);
    const bool first = n0 == 0;
    std::vector<Tensor> keep;
    std::optional<dnnl::memory> src = slice_of(reordered_x, p.weights_pd.src_desc(), n0);
    if (!src) src = as_input(p.src, p.weights_pd.src_desc(), x.data<float>() + n0 * x_sample, stream, keep);
    std::optional<dnnl::memory> diff_dst = slice_of(reordered_dy, p.weights_pd.diff_dst_desc(), n0);
    if (!diff_dst)
      diff_dst = as_input(p.dst, p.weights_pd.diff_dst_desc(), grad_y.data<float>() + n0 * dy_sample, stream, keep);
    const dnnl::memory::desc part_desc = p.weights_pd.diff_weights_desc();
    dnnl::memory diff_weights = sum.computed;
    if (!first) {
      if (!part.defined()) part = empty({int64_t(part_desc.get_size())}, DType::UInt8);
      diff_weights = dnnl::memory(part_desc, engine(), part.data_ptr());
      if (!b_part.defined()) b_part = empty({g.out_channels});
    }
    dnnl::memory diff_bias(p.bias, engine(), (first ? b_out : b_part).data_ptr());
    p.backward_weights.execute(stream, {{DNNL_ARG_SRC, *src},
                                        {DNNL_ARG_DIFF_DST, *diff_dst},
                                        {DNNL_ARG_DIFF_WEIGHTS, diff_weights},
                                        {DNNL_ARG_DIFF_BIAS, diff_bias}});
    if (!first && part_desc != sum_desc) {  // an uneven last chunk whose kernel chose another layout
      keep.push_back(empty({int64_t(sum_desc.get_size())}, DType::UInt8));
      dnnl::memory converted(sum_desc, engine(), keep.back().data_ptr());
      dnnl::reorder(diff_weights, converted).execute(stream, diff_weights, converted);
      diff_weights = converted;
    }
    stream.wait();
    if (!first) {
      if (grad_w.defined())
        add_floats(static_cast<float*>(sum.computed.get_data_handle()), static_cast<const float*>(diff_weights.get_data_handle()),
                   int64_t(sum_desc.get_size() / sizeof(float)));
      if (grad_b.defined()) add_floats(b_out.data<float>(), b_part.data<float>(), g.out_channels);
    }
  }
  finish_output(sum, stream);
  stream.wait();
  count_pass(g);
}

}  // namespace

bool onednn_available() { return true; }

void onednn_conv2d_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias,
                           const Tensor& y, Tensor* x_workspace) {
  Plan& p = plan_for(g);
  dnnl::stream stream(engine());
  std::vector<Tensor> keep;
  dnnl::memory src = as_input(p.src, p.forward_pd.src_desc(), x.data_ptr(), stream, keep);
  if (x_workspace) *x_workspace = src.get_data_handle() != x.data_ptr() ? keep.front() : Tensor();
  dnnl::memory weights = as_input(p.weights, p.forward_pd.weights_desc(), w.data_ptr(), stream, keep);
  Tensor zero_bias;
  if (!bias.defined()) zero_bias = zeros({g.out_channels});
  dnnl::memory b(p.bias, engine(), bias.defined() ? bias.data_ptr() : zero_bias.data_ptr());
  Output dst = as_output(p.dst, p.forward_pd.dst_desc(), y.data_ptr(), keep);
  p.forward.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, dst.computed}});
  finish_output(dst, stream);
  stream.wait();
  count_pass(g);
}

void onednn_conv2d_backward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& grad_y,
                            const Tensor& grad_x, const Tensor& grad_w, const Tensor& grad_b, bool chunked_weights,
                            const Tensor& x_workspace) {
  Plan& p = plan_for(g);
  dnnl::stream stream(engine());
  std::vector<Tensor> keep;
  Reordered reordered_dy;  // dy in the input gradient's layout, for the weights' gradient to reuse
  if (grad_x.defined()) {
    dnnl::memory diff_dst = as_input(p.dst, p.data_pd.diff_dst_desc(), grad_y.data_ptr(), stream, keep);
    dnnl::memory weights = as_input(p.weights, p.data_pd.weights_desc(), w.data_ptr(), stream, keep);
    Output diff_src = as_output(p.src, p.data_pd.diff_src_desc(), grad_x.data_ptr(), keep);
    p.backward_data.execute(stream,
                            {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, diff_src.computed}});
    finish_output(diff_src, stream);
    count_pass(g);
    if (diff_dst.get_data_handle() != grad_y.data_ptr()) reordered_dy = {p.data_pd.diff_dst_desc(), diff_dst.get_data_handle()};
  }
  stream.wait();
  if (grad_w.defined() || grad_b.defined()) {
    // The forward's x in its own layout (checked against this plan's: a workspace from another
    // geometry or path is ignored).
    Reordered reordered_x;
    const dnnl::memory::desc x_layout = p.forward_pd.src_desc();
    if (x_workspace.defined() && x_workspace.dtype() == DType::UInt8 && size_t(x_workspace.numel()) == x_layout.get_size())
      reordered_x = {x_layout, x_workspace.data_ptr()};
    onednn_weight_gradient(g, x, grad_y, grad_w, grad_b, chunked_weights, reordered_x, reordered_dy);
  }
}

}  // namespace dsvd::cpu
