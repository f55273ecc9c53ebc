// Pooling: max_pool2d, avg_pool2d and adaptive_avg_pool2d with PyTorch's window and size rules.
//
//   output size: floor((H + 2p − k)/s) + 1, or ceil with ceil_mode, minus one if that last window
//   would start in the padding (PyTorch's rule).
//   max: backward routes g to the position of each window's maximum (first one; NaN wins).
//   avg: divisor = window size including padding (count_include_pad) or only the valid part;
//        backward spreads g/divisor over the valid part.
//   adaptive avg: window i covers [floor(i·H/OH), ceil((i+1)·H/OH)).
#include <cmath>

#include "cuda/dnn.h"
#include "ops/internal.h"
#include "ops/nn_ops.h"
#include "tensor/parallel.h"

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

cuda::PoolWindows gpu_windows(const Windows& w) {
  return {w.planes, w.height, w.width, w.out_h, w.out_w, w.kernel[0], w.kernel[1],
          w.stride[0], w.stride[1], w.padding[0], w.padding[1]};
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& o) {
  Windows w = plan("max_pool2d", x, o);
  Tensor in = detail::contiguous_raw(x);
  Tensor out = empty(output_shape(x, w.out_h, w.out_w), x.dtype(), x.device());
  // The CPU keeps the flat position within the input plane; the GPU kernel keeps each window's
  // argmax in one byte when the window allows (cuda/dnn.h).
  const bool byte_codes = detail::on_cuda(x) && w.kernel[0] * w.kernel[1] <= 256;
  Tensor indices = empty(out.sizes(), byte_codes ? DType::UInt8 : DType::Int64, x.device());
  if (detail::on_cuda(x)) cuda::max_pool2d_forward(gpu_windows(w), in, out, indices);
  else DSVD_DISPATCH_FLOATING(x.dtype(), "max_pool2d", [&] {
    const scalar_t* src = in.data<scalar_t>();
    scalar_t* dst = out.data<scalar_t>();
    int64_t* idx = indices.data<int64_t>();
    parallel_for(0, w.planes, out.numel() > kParallelGrain / 4, [&](int64_t plane) {
      const scalar_t* p = src + plane * w.height * w.width;
      for (int64_t oy = 0; oy < w.out_h; ++oy)
        for (int64_t ox = 0; ox < w.out_w; ++ox) {
          int64_t y0 = oy * w.stride[0] - w.padding[0], x0 = ox * w.stride[1] - w.padding[1];
          int64_t y1 = std::min(y0 + w.kernel[0], w.height), x1 = std::min(x0 + w.kernel[1], w.width);
          y0 = std::max<int64_t>(y0, 0);
          x0 = std::max<int64_t>(x0, 0);
          int64_t best = y0 * w.width + x0;
          scalar_t m = p[best];
          for (int64_t y = y0; y < y1; ++y)
            for (int64_t xx = x0; xx < x1; ++xx) {
              scalar_t v = p[y * w.width + xx];
              if (v > m || (std::isnan(v) && !std::isnan(m))) {
                m = v;
                best = y * w.width + xx;
              }
            }
          int64_t k = (plane * w.out_h + oy) * w.out_w + ox;
          dst[k] = m;
          idx[k] = best;
        }
    });
  });
  Shape input_shape = x.sizes();
  return record_op("max_pool2d", {out}, {x}, {{"indices", indices}}, [input_shape, w](const std::vector<Tensor>& g, FunctionNode& node) {
    Tensor gy = detail::contiguous_raw(g[0]);
    if (detail::on_cuda(gy)) {
      Tensor gx = empty(input_shape, gy.dtype(), gy.device());
      cuda::max_pool2d_backward(gpu_windows(w), gy, node.saved_tensor(0), gx);
      return std::vector<Tensor>{gx};
    }
    Tensor gx = zeros(input_shape, gy.dtype());
    const int64_t* idx = node.saved_tensor(0).data<int64_t>();
    DSVD_DISPATCH_FLOATING(gy.dtype(), "max_pool2d_backward", [&] {
      const scalar_t* pg = gy.data<scalar_t>();
      scalar_t* px = gx.data<scalar_t>();
      const int64_t per_plane = w.out_h * w.out_w;
      parallel_for(0, w.planes, gy.numel() > kParallelGrain / 4, [&](int64_t plane) {
        scalar_t* dst = px + plane * w.height * w.width;
        for (int64_t k = plane * per_plane; k < (plane + 1) * per_plane; ++k) dst[idx[k]] += pg[k];
      });
    });
    return std::vector<Tensor>{gx};
  })[0];
}

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& o) {
  Windows w = plan("avg_pool2d", x, o);
  const bool include_pad = o.count_include_pad;
  // Each window's clipped bounds and divisor, computed once for forward and backward.
  auto window = [w, include_pad](int64_t oy, int64_t ox, int64_t& y0, int64_t& y1, int64_t& x0, int64_t& x1) {
    y0 = oy * w.stride[0] - w.padding[0];
    x0 = ox * w.stride[1] - w.padding[1];
    y1 = std::min(y0 + w.kernel[0], w.height + w.padding[0]);
    x1 = std::min(x0 + w.kernel[1], w.width + w.padding[1]);
    int64_t padded = (y1 - y0) * (x1 - x0);
    y0 = std::max<int64_t>(y0, 0);
    x0 = std::max<int64_t>(x0, 0);
    y1 = std::min(y1, w.height);
    x1 = std::min(x1, w.width);
    return double(include_pad ? padded : (y1 - y0) * (x1 - x0));
  };
  Tensor in = detail::contiguous_raw(x);
  Tensor out = empty(output_shape(x, w.out_h, w.out_w), x.dtype(), x.device());
  if (detail::on_cuda(x)) cuda::avg_pool2d_forward(gpu_windows(w), include_pad, in, out);
  else DSVD_DISPATCH_FLOATING(x.dtype(), "avg_pool2d", [&] {
    const scalar_t* src = in.data<scalar_t>();
    scalar_t* dst = out.data<scalar_t>();
    parallel_for(0, w.planes, out.numel() > kParallelGrain / 4, [&](int64_t plane) {
      const scalar_t* p = src + plane * w.height * w.width;
      for (int64_t oy = 0; oy < w.out_h; ++oy)
        for (int64_t ox = 0; ox < w.out_w; ++ox) {
          int64_t y0, y1, x0, x1;
          double divisor = window(oy, ox, y0, y1, x0, x1);
          double s = 0;
          for (int64_t y = y0; y < y1; ++y)
            for (int64_t xx = x0; xx < x1; ++xx) s += double(p[y * w.width + xx]);
          dst[(plane * w.out_h + oy) * w.out_w + ox] = scalar_t(s / divisor);
        }
    });
  });
  Shape input_shape = x.sizes();
  return record_op("avg_pool2d", {out}, {x}, {}, [input_shape, w, window, include_pad](const std::vector<Tensor>& g, FunctionNode&) {
    Tensor gy = detail::contiguous_raw(g[0]);
    if (detail::on_cuda(gy)) {
      Tensor gx = empty(input_shape, gy.dtype(), gy.device());
      cuda::avg_pool2d_backward(gpu_windows(w), include_pad, gy, gx);
      return std::vector<Tensor>{gx};
    }
    Tensor gx = zeros(input_shape, gy.dtype());
    DSVD_DISPATCH_FLOATING(gy.dtype(), "avg_pool2d_backward", [&] {
      const scalar_t* pg = gy.data<scalar_t>();
      scalar_t* px = gx.data<scalar_t>();
      parallel_for(0, w.planes, gy.numel() > kParallelGrain / 4, [&](int64_t plane) {
        scalar_t* dst = px + plane * w.height * w.width;
        for (int64_t oy = 0; oy < w.out_h; ++oy)
          for (int64_t ox = 0; ox < w.out_w; ++ox) {
            int64_t y0, y1, x0, x1;
            double divisor = window(oy, ox, y0, y1, x0, x1);
            scalar_t share = scalar_t(double(pg[(plane * w.out_h + oy) * w.out_w + ox]) / divisor);
            for (int64_t y = y0; y < y1; ++y)
              for (int64_t xx = x0; xx < x1; ++xx) dst[y * w.width + xx] += share;
          }
      });
    });
    return std::vector<Tensor>{gx};
  })[0];
}

Tensor adaptive_avg_pool2d(const Tensor& x, Pair output_size) {
  DSVD_CHECK(x.dim() == 4, "adaptive_avg_pool2d: input must be (N, C, H, W), got shape ", shape_str(x.sizes()));
  DSVD_CHECK(output_size[0] >= 1 && output_size[1] >= 1, "adaptive_avg_pool2d: output size must be positive");
  DSVD_CHECK(is_floating(x.dtype()), "adaptive_avg_pool2d: expects float32 or float64, got ", dtype_name(x.dtype()));
  const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), OH = output_size[0], OW = output_size[1];
  auto bounds = [](int64_t i, int64_t in, int64_t out, int64_t& lo, int64_t& hi) {
    lo = (i * in) / out;
    hi = ((i + 1) * in + out - 1) / out;
  };
  Tensor in = detail::contiguous_raw(x);
  Tensor out = empty({x.size(0), x.size(1), OH, OW}, x.dtype(), x.device());
  if (detail::on_cuda(x)) cuda::adaptive_avg_pool2d_forward(in, out);
  else DSVD_DISPATCH_FLOATING(x.dtype(), "adaptive_avg_pool2d", [&] {
    const scalar_t* src = in.data<scalar_t>();
    scalar_t* dst = out.data<scalar_t>();
    parallel_for(0, planes, x.numel() > kParallelGrain, [&](int64_t plane) {
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          int64_t y0, y1, x0, x1;
          bounds(oy, H, OH, y0, y1);
          bounds(ox, W, OW, x0, x1);
          double s = 0;
          for (int64_t y = y0; y < y1; ++y)
            for (int64_t xx = x0; xx < x1; ++xx) s += double(src[(plane * H + y) * W + xx]);
          dst[(plane * OH + oy) * OW + ox] = scalar_t(s / double((y1 - y0) * (x1 - x0)));
        }
    });
  });
  Shape input_shape = x.sizes();
  return record_op("adaptive_avg_pool2d", {out}, {x}, {}, [=](const std::vector<Tensor>& g, FunctionNode&) {
    Tensor gy = detail::contiguous_raw(g[0]);
    if (detail::on_cuda(gy)) {
      Tensor gx = empty(input_shape, gy.dtype(), gy.device());
      cuda::adaptive_avg_pool2d_backward(gy, gx);
      return std::vector<Tensor>{gx};
    }
    Tensor gx = zeros(input_shape, gy.dtype());
    DSVD_DISPATCH_FLOATING(gy.dtype(), "adaptive_avg_pool2d_backward", [&] {
      const scalar_t* pg = gy.data<scalar_t>();
      scalar_t* px = gx.data<scalar_t>();
      parallel_for(0, planes, gx.numel() > kParallelGrain, [&](int64_t plane) {
        for (int64_t oy = 0; oy < OH; ++oy)
          for (int64_t ox = 0; ox < OW; ++ox) {
            int64_t y0, y1, x0, x1;
            bounds(oy, H, OH, y0, y1);
            bounds(ox, W, OW, x0, x1);
            scalar_t share = scalar_t(double(pg[(plane * OH + oy) * OW + ox]) / double((y1 - y0) * (x1 - x0)));
            for (int64_t y = y0; y < y1; ++y)
              for (int64_t xx = x0; xx < x1; ++xx) px[(plane * H + y) * W + xx] += share;
          }
      });
    });
    return std::vector<Tensor>{gx};
  })[0];
}

}  // namespace dsvd
