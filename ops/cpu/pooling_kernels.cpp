// The CPU kernels of the pooling ops (ops/kernels/nn.h) on the window rules of
// ops/math/pooling.h: planes in parallel, each output written by one thread; the backward passes
// add into grad_x plane by plane (a plane belongs to one thread), so results do not depend on the
// thread count.
#include <algorithm>
#include <vector>

#include "ops/kernel_table.h"
#include "ops/kernels/nn.h"
#include "ops/math/pooling.h"
#include "tensor/parallel.h"

namespace dsvd::cpu {
namespace {

using kernels::PoolWindows;

// One output row at a time, the window positions outermost and the outputs of the row innermost:
// each output's running maximum is its own chain, so the row's chains overlap (one window after
// the other, the chain's compare-and-select latency bounds the loop at ~6 cycles an element).
// The scan order within each window, and so the result, is math::max_window_offset's. The row's
// maxima and offsets live in per-thread buffers of their own types, so that stores to them cannot
// alias the window geometry (which the compiler would otherwise reload every element).
template <typename I>
void max_forward(const PoolWindows& w, const Tensor& x, const Tensor& y, const Tensor& indices) {
  const int64_t height = w.height, width = w.width, out_h = w.out_h, out_w = w.out_w;
  const int64_t kernel_h = w.kernel_h, kernel_w = w.kernel_w, stride_h = w.stride_h, stride_w = w.stride_w;
  const int64_t pad_h = w.pad_h, pad_w = w.pad_w;
  DSVD_DISPATCH_FLOATING(x.dtype(), "max_pool2d", [&] {
    const scalar_t* src = x.data<scalar_t>();
    scalar_t* dst = y.data<scalar_t>();
    I* idx = static_cast<I*>(indices.data_ptr());
    parallel_for(0, w.planes, y.numel() > kParallelGrain / 4, [&](int64_t plane) {
      static thread_local std::vector<scalar_t> maxima;
      static thread_local std::vector<int32_t> offsets;  // in the window; -1 before the first value
      maxima.resize(size_t(out_w));
      offsets.resize(size_t(out_w));
      scalar_t* __restrict m = maxima.data();
      int32_t* __restrict best = offsets.data();
      const scalar_t* p = src + plane * height * width;
      for (int64_t oy = 0; oy < out_h; ++oy) {
        std::fill(best, best + out_w, int32_t(-1));
        for (int64_t ky = 0; ky < kernel_h; ++ky) {
          const int64_t iy = oy * stride_h - pad_h + ky;
          if (iy < 0 || iy >= height) continue;
          const scalar_t* __restrict row = p + iy * width;
          for (int64_t kx = 0; kx < kernel_w; ++kx) {
            // The outputs whose column ox·stride − pad + kx lies inside the row.
            const int64_t shift = kx - pad_w;
            const int64_t lo = shift >= 0 ? 0 : (-shift + stride_w - 1) / stride_w;
            const int64_t hi = std::min(out_w, (width - 1 - shift) / stride_w + 1);
            const int32_t code = int32_t(ky * kernel_w + kx);
            for (int64_t ox = lo; ox < hi; ++ox) {
              const scalar_t v = row[ox * stride_w + shift];
              const bool take = (best[ox] < 0) | math::replaces_max(v, m[ox]);
              m[ox] = take ? v : m[ox];
              best[ox] = take ? code : best[ox];
            }
          }
        }
        const int64_t k0 = (plane * out_h + oy) * out_w;
        for (int64_t ox = 0; ox < out_w; ++ox) {
          dst[k0 + ox] = m[ox];
          const int64_t offset = best[ox];
          if constexpr (sizeof(I) == 1) {
            idx[k0 + ox] = I(offset);  // the byte code is the window offset
          } else {
            idx[k0 + ox] = I(math::window_position(w, oy, ox, offset));
          }
        }
      }
    });
  });
}

void max_pool2d_forward(const PoolWindows& w, const Tensor& x, const Tensor& y, const Tensor& indices) {
  if (indices.dtype() == DType::UInt8) max_forward<uint8_t>(w, x, y, indices);
  else max_forward<int64_t>(w, x, y, indices);
}

template <typename I>
void max_backward(const PoolWindows& w, const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x) {
  const I* idx = static_cast<const I*>(indices.data_ptr());
  DSVD_DISPATCH_FLOATING(grad_y.dtype(), "max_pool2d_backward", [&] {
    const scalar_t* pg = grad_y.data<scalar_t>();
    scalar_t* px = grad_x.data<scalar_t>();
    // Byte codes: the code's offset in the plane from the window's start, one table per call
    // (decode_argmax's division per output otherwise).
    std::vector<int64_t> code_offset;
    if constexpr (sizeof(I) == 1) {
      for (int64_t code = 0; code < w.kernel_h * w.kernel_w; ++code)
        code_offset.push_back(math::window_position(w, 0, 0, code) - math::window_position(w, 0, 0, 0));
    }
    parallel_for(0, w.planes, grad_y.numel() > kParallelGrain / 4, [&](int64_t plane) {
      scalar_t* dst = px + plane * w.height * w.width;
      std::fill(dst, dst + w.height * w.width, scalar_t(0));
      for (int64_t oy = 0; oy < w.out_h; ++oy)
        for (int64_t ox = 0; ox < w.out_w; ++ox) {
          const int64_t k = (plane * w.out_h + oy) * w.out_w + ox;
          if constexpr (sizeof(I) == 1) {
            dst[math::window_position(w, oy, ox, 0) + code_offset[idx[k]]] += pg[k];
          } else {
            dst[math::decode_argmax<I>(w, oy, ox, idx[k])] += pg[k];
          }
        }
    });
  });
}

void max_pool2d_backward(const PoolWindows& w, const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x) {
  if (indices.dtype() == DType::UInt8) max_backward<uint8_t>(w, grad_y, indices, grad_x);
  else max_backward<int64_t>(w, grad_y, indices, grad_x);
}

void avg_pool2d_forward(const PoolWindows& w, bool include_pad, const Tensor& x, const Tensor& y) {
  DSVD_DISPATCH_FLOATING(x.dtype(), "avg_pool2d", [&] {
    const scalar_t* src = x.data<scalar_t>();
    scalar_t* dst = y.data<scalar_t>();
    parallel_for(0, w.planes, y.numel() > kParallelGrain / 4, [&](int64_t plane) {
      const scalar_t* p = src + plane * w.height * w.width;
      for (int64_t oy = 0; oy < w.out_h; ++oy)
        for (int64_t ox = 0; ox < w.out_w; ++ox) {
          int64_t y0, y1, x0, x1;
          const double divisor = math::avg_window(w, include_pad, oy, ox, y0, y1, x0, x1);
          double s = 0;
          for (int64_t yy = y0; yy < y1; ++yy)
            for (int64_t xx = x0; xx < x1; ++xx) s += double(p[yy * w.width + xx]);
          dst[(plane * w.out_h + oy) * w.out_w + ox] = scalar_t(s / divisor);
        }
    });
  });
}

void avg_pool2d_backward(const PoolWindows& w, bool include_pad, const Tensor& grad_y, const Tensor& grad_x) {
  DSVD_DISPATCH_FLOATING(grad_y.dtype(), "avg_pool2d_backward", [&] {
    const scalar_t* pg = grad_y.data<scalar_t>();
    scalar_t* px = grad_x.data<scalar_t>();
    parallel_for(0, w.planes, grad_y.numel() > kParallelGrain / 4, [&](int64_t plane) {
      scalar_t* dst = px + plane * w.height * w.width;
      std::fill(dst, dst + w.height * w.width, scalar_t(0));
      for (int64_t oy = 0; oy < w.out_h; ++oy)
        for (int64_t ox = 0; ox < w.out_w; ++ox) {
          int64_t y0, y1, x0, x1;
          const double divisor = math::avg_window(w, include_pad, oy, ox, y0, y1, x0, x1);
          const scalar_t share = scalar_t(double(pg[(plane * w.out_h + oy) * w.out_w + ox]) / divisor);
          for (int64_t yy = y0; yy < y1; ++yy)
            for (int64_t xx = x0; xx < x1; ++xx) dst[yy * w.width + xx] += share;
        }
    });
  });
}

void adaptive_avg_pool2d_forward(const Tensor& x, const Tensor& y) {
  const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), OH = y.size(2), OW = y.size(3);
  DSVD_DISPATCH_FLOATING(x.dtype(), "adaptive_avg_pool2d", [&] {
    const scalar_t* src = x.data<scalar_t>();
    scalar_t* dst = y.data<scalar_t>();
    parallel_for(0, planes, x.numel() > kParallelGrain, [&](int64_t plane) {
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          int64_t y0, y1, x0, x1;
          math::adaptive_bounds(oy, H, OH, y0, y1);
          math::adaptive_bounds(ox, W, OW, x0, x1);
          double s = 0;
          for (int64_t yy = y0; yy < y1; ++yy)
            for (int64_t xx = x0; xx < x1; ++xx) s += double(src[(plane * H + yy) * W + xx]);
          dst[(plane * OH + oy) * OW + ox] = scalar_t(s / double((y1 - y0) * (x1 - x0)));
        }
    });
  });
}

void adaptive_avg_pool2d_backward(const Tensor& grad_y, const Tensor& grad_x) {
  const int64_t planes = grad_x.size(0) * grad_x.size(1), H = grad_x.size(2), W = grad_x.size(3);
  const int64_t OH = grad_y.size(2), OW = grad_y.size(3);
  DSVD_DISPATCH_FLOATING(grad_y.dtype(), "adaptive_avg_pool2d_backward", [&] {
    const scalar_t* pg = grad_y.data<scalar_t>();
    scalar_t* px = grad_x.data<scalar_t>();
    parallel_for(0, planes, grad_x.numel() > kParallelGrain, [&](int64_t plane) {
      std::fill(px + plane * H * W, px + (plane + 1) * H * W, scalar_t(0));
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          int64_t y0, y1, x0, x1;
          math::adaptive_bounds(oy, H, OH, y0, y1);
          math::adaptive_bounds(ox, W, OW, x0, x1);
          const scalar_t share = scalar_t(double(pg[(plane * OH + oy) * OW + ox]) / double((y1 - y0) * (x1 - x0)));
          for (int64_t yy = y0; yy < y1; ++yy)
            for (int64_t xx = x0; xx < x1; ++xx) px[(plane * H + yy) * W + xx] += share;
        }
    });
  });
}

}  // namespace

DSVD_REGISTER_KERNEL(kernels::MaxPool2dForwardKernel, CPU, max_pool2d_forward);
DSVD_REGISTER_KERNEL(kernels::MaxPool2dBackwardKernel, CPU, max_pool2d_backward);
DSVD_REGISTER_KERNEL(kernels::AvgPool2dForwardKernel, CPU, avg_pool2d_forward);
DSVD_REGISTER_KERNEL(kernels::AvgPool2dBackwardKernel, CPU, avg_pool2d_backward);
DSVD_REGISTER_KERNEL(kernels::AdaptiveAvgPool2dForwardKernel, CPU, adaptive_avg_pool2d_forward);
DSVD_REGISTER_KERNEL(kernels::AdaptiveAvgPool2dBackwardKernel, CPU, adaptive_avg_pool2d_backward);

}  // namespace dsvd::cpu
