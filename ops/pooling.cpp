// Pooling: max_pool2d, avg_pool2d and adaptive_avg_pool2d with PyTorch's window and size rules.
//
//   output size: floor((H + 2p − k)/s) + 1, or ceil with ceil_mode, minus one if that last window
//   would start in the padding (PyTorch's rule).
//   max: backward routes g to the position of each window's maximum (first one; NaN wins).
//   avg: divisor = window size including padding (count_include_pad) or only the valid part;
//        backward spreads g/divisor over the valid part.
//   adaptive avg: window i covers [floor(i·H/OH), ceil((i+1)·H/OH)).
// The window arithmetic every device follows is in ops/math/pooling.h.
#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/float32_compute.h"
#include "ops/kernels/nn.h"
#include "ops/nn_ops.h"

namespace dsvd {
namespace {

struct Windows {
  int64_t planes, height, width, out_h, out_w;
  Pair kernel, stride, padding;
};

int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil_mode) {
  int64_t span = in + 2 * p - k;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

Windows plan(const char* op, const Tensor& x, const Pool2dOptions& o) {
  DSVD_CHECK(x.dim() == 4, op, ": input must be (N, C, H, W), got shape ", shape_str(x.sizes()));
  DSVD_CHECK(is_floating(x.dtype()), op, ": expects float32 or float64, got ", dtype_name(x.dtype()));
  Windows w{x.size(0) * x.size(1), x.size(2), x.size(3), 0, 0, o.kernel, o.stride, o.padding};
  for (int k = 0; k < 2; ++k) {
    if (w.stride[k] == 0) w.stride[k] = w.kernel[k];
    DSVD_CHECK(w.kernel[k] >= 1 && w.stride[k] >= 1 && w.padding[k] >= 0, op, ": kernel and stride must be >= 1 and "
               "padding >= 0");
    DSVD_CHECK(w.padding[k] * 2 <= w.kernel[k], op, ": padding (", w.padding[k], ") must be at most half the kernel (",
               w.kernel[k], ")");
  }
  w.out_h = pooled_size(w.height, w.kernel[0], w.stride[0], w.padding[0], o.ceil_mode);
  w.out_w = pooled_size(w.width, w.kernel[1], w.stride[1], w.padding[1], o.ceil_mode);
  DSVD_CHECK(w.out_h > 0 && w.out_w > 0, op, ": input ", shape_str(x.sizes()), " is smaller than the kernel (",
             w.kernel[0], ", ", w.kernel[1], ")");
  return w;
}

Shape output_shape(const Tensor& x, int64_t oh, int64_t ow) { return {x.size(0), x.size(1), oh, ow}; }

kernels::PoolWindows kernel_windows(const Windows& w, const Tensor& x, MemoryFormat format) {
  return {w.planes,    w.height,    w.width,      w.out_h,      w.out_w,
          w.kernel[0], w.kernel[1], w.stride[0],  w.stride[1],  w.padding[0],
          w.padding[1], format == MemoryFormat::ChannelsLast, x.size(1)};
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& o) {
  // A channels-last input stays so where the device's kernels take it.
  const MemoryFormat format = kernels::layout_for<kernels::MaxPool2dForwardKernel, kernels::MaxPool2dBackwardKernel>(x);
  const kernels::PoolWindows w = kernel_windows(plan("max_pool2d", x, o), x, format);
  Tensor in = detail::contiguous_raw(x, format);
  Tensor out = empty(output_shape(x, w.out_h, w.out_w), x.dtype(), x.device(), format);
  Tensor indices = empty(out.sizes(), w.byte_codes() ? DType::UInt8 : DType::Int64, x.device(), format);
  kernels::call<kernels::MaxPool2dForwardKernel>(x.device(), w, in, out, indices);
  Shape input_shape = x.sizes();
  return record_op("max_pool2d", {out}, {x}, {{"indices", indices}}, [input_shape, w, format](const std::vector<Tensor>& g, FunctionNode& node) {
    Tensor gy = detail::contiguous_raw(g[0], format);
    Tensor gx = empty(input_shape, gy.dtype(), gy.device(), format);
    kernels::call<kernels::MaxPool2dBackwardKernel>(gy.device(), w, gy, node.saved_tensor(0), gx);
    return std::vector<Tensor>{gx};
  })[0];
}

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& o) {
  Windows w = plan("avg_pool2d", x, o);
  const bool include_pad = o.count_include_pad;
  const MemoryFormat format = kernels::layout_for<kernels::AvgPool2dForwardKernel, kernels::AvgPool2dBackwardKernel>(x);
  const kernels::PoolWindows kw = kernel_windows(w, x, format);
  Tensor in = detail::contiguous_raw(x, format);
  Tensor out = empty(output_shape(x, w.out_h, w.out_w), x.dtype(), x.device(), format);
  kernels::call<kernels::AvgPool2dForwardKernel>(x.device(), kw, include_pad, in, out);
  Shape input_shape = x.sizes();
  return record_op("avg_pool2d", {out}, {x}, {}, [input_shape, kw, include_pad, format](const std::vector<Tensor>& g, FunctionNode&) {
    Tensor gy = detail::contiguous_raw(g[0], format);
    Tensor gx = empty(input_shape, gy.dtype(), gy.device(), format);
    kernels::call<kernels::AvgPool2dBackwardKernel>(gy.device(), kw, include_pad, gy, gx);
    return std::vector<Tensor>{gx};
  })[0];
}

Tensor adaptive_avg_pool2d(const Tensor& x, Pair output_size) {
  DSVD_CHECK(x.dim() == 4, "adaptive_avg_pool2d: input must be (N, C, H, W), got shape ", shape_str(x.sizes()));
  DSVD_CHECK(output_size[0] >= 1 && output_size[1] >= 1, "adaptive_avg_pool2d: output size must be positive");
  DSVD_CHECK(is_floating(x.dtype()), "adaptive_avg_pool2d: expects float32 or float64, got ", dtype_name(x.dtype()));
  Tensor in = detail::contiguous_raw(x);
  Tensor out = empty({x.size(0), x.size(1), output_size[0], output_size[1]}, x.dtype(), x.device());
  kernels::call<kernels::AdaptiveAvgPool2dForwardKernel>(x.device(), in, out);
  Shape input_shape = x.sizes();
  return record_op("adaptive_avg_pool2d", {out}, {x}, {}, [input_shape](const std::vector<Tensor>& g, FunctionNode&) {
    Tensor gy = detail::contiguous_raw(g[0]);
    Tensor gx = empty(input_shape, gy.dtype(), gy.device());
    kernels::call<kernels::AdaptiveAvgPool2dBackwardKernel>(gy.device(), gy, gx);
    return std::vector<Tensor>{gx};
  })[0];
}

}  // namespace dsvd
