// Pooling kernels (ops/kernels/nn.h): one thread per output element, on the window rules every
// device shares (ops/math/pooling.h); max and average pooling in NCHW or channels-last. Backward passes scatter with atomicAdd where windows overlap; grad_x is
// zeroed here first.
#include "cuda/context.h"
#include "cuda/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/nn.h"
#include "ops/math/pooling.h"
#include "tensor/dtype.h"

namespace dsvd::cuda {
namespace {

using kernels::PoolWindows;
using math::adaptive_bounds;
using math::avg_window;
using math::decode_argmax;
using math::encode_argmax;

#define FOR_EACH(i, n) for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// Output element k (in memory order, NCHW or channels-last as PoolWindows says): its window
// (oy, ox), and where its input plane starts (pixels `step` apart, PoolWindows::pixel_stride).
// Channels-last walks the channels fastest, so neighbouring threads read neighbouring memory.
struct PoolSite {
  int64_t oy, ox, plane_start, step;
};
__device__ PoolSite pool_site(const PoolWindows& w, int64_t k) {
  if (!w.channels_last) {
    const int64_t plane = k / (w.out_w * w.out_h);
    return {(k / w.out_w) % w.out_h, k % w.out_w, plane * w.height * w.width, 1};
  }
  const int64_t c = k % w.channels, pixel = k / w.channels;
  const int64_t n = pixel / (w.out_w * w.out_h);
  return {(pixel / w.out_w) % w.out_h, pixel % w.out_w, n * w.height * w.width * w.channels + c, w.channels};
}

template <typename T, typename I>
__global__ void max_fwd(PoolWindows w, const T* x, T* y, I* idx) {
  FOR_EACH(k, w.planes * w.out_h * w.out_w) {
    const PoolSite s = pool_site(w, k);
    const int64_t best = math::max_window(w, x + s.plane_start, s.oy, s.ox, &y[k], s.step);
    idx[k] = encode_argmax<I>(w, s.oy, s.ox, best);
  }
}

template <typename T, typename I>
__global__ void max_bwd(PoolWindows w, const T* gy, const I* idx, T* gx) {
  FOR_EACH(k, w.planes * w.out_h * w.out_w) {
    const PoolSite s = pool_site(w, k);
    atomicAdd(gx + s.plane_start + decode_argmax<I>(w, s.oy, s.ox, idx[k]) * s.step, gy[k]);
  }
}

template <typename T>
__global__ void avg_fwd(PoolWindows w, bool include_pad, const T* x, T* y) {
  FOR_EACH(k, w.planes * w.out_h * w.out_w) {
    const PoolSite s = pool_site(w, k);
    int64_t y0, y1, x0, x1;
    const double divisor = avg_window(w, include_pad, s.oy, s.ox, y0, y1, x0, x1);
    const T* p = x + s.plane_start;
    double sum = 0;
    for (int64_t yy = y0; yy < y1; ++yy)
      for (int64_t xx = x0; xx < x1; ++xx) sum += double(p[(yy * w.width + xx) * s.step]);
    y[k] = T(sum / divisor);
  }
}

template <typename T>
__global__ void avg_bwd(PoolWindows w, bool include_pad, const T* gy, T* gx) {
  FOR_EACH(k, w.planes * w.out_h * w.out_w) {
    const PoolSite s = pool_site(w, k);
    int64_t y0, y1, x0, x1;
    const double divisor = avg_window(w, include_pad, s.oy, s.ox, y0, y1, x0, x1);
    const T share = T(double(gy[k]) / divisor);
    T* p = gx + s.plane_start;
    for (int64_t yy = y0; yy < y1; ++yy)
      for (int64_t xx = x0; xx < x1; ++xx) atomicAdd(p + (yy * w.width + xx) * s.step, share);
  }
}

// Global average pooling (1x1 output) is the common case: one block-stride reduction per plane.
template <typename T>
__global__ void adaptive_fwd(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* x, T* y) {
  FOR_EACH(k, planes * OH * OW) {
    const int64_t ox = k % OW, oy = (k / OW) % OH, plane = k / (OW * OH);
    int64_t y0, y1, x0, x1;
    adaptive_bounds(oy, H, OH, y0, y1);
    adaptive_bounds(ox, W, OW, x0, x1);
    double s = 0;
    for (int64_t yy = y0; yy < y1; ++yy)
      for (int64_t xx = x0; xx < x1; ++xx) s += double(x[(plane * H + yy) * W + xx]);
    y[k] = T(s / double((y1 - y0) * (x1 - x0)));
  }
}

template <typename T>
__global__ void adaptive_bwd(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* gy, T* gx) {
  // one thread per input element: the sum over the windows that contain it (no atomics)
  FOR_EACH(e, planes * H * W) {
    const int64_t xx = e % W, yy = (e / W) % H, plane = e / (W * H);
    double s = 0;
    for (int64_t oy = (yy * OH) / H; oy < OH; ++oy) {
      int64_t y0, y1;
      adaptive_bounds(oy, H, OH, y0, y1);
      if (y0 > yy) break;
      if (yy >= y1) continue;
      for (int64_t ox = (xx * OW) / W; ox < OW; ++ox) {
        int64_t x0, x1;
        adaptive_bounds(ox, W, OW, x0, x1);
        if (x0 > xx) break;
        if (xx >= x1) continue;
        s += double(gy[(plane * OH + oy) * OW + ox]) / double((y1 - y0) * (x1 - x0));
      }
    }
    gx[e] = T(s);
  }
}

}  // namespace

void max_pool2d_forward(const PoolWindows& w, const Tensor& x, const Tensor& y, const Tensor& indices) {
  const int64_t n = w.planes * w.out_h * w.out_w;
  if (n == 0) return;
  DSVD_DISPATCH_FLOATING_AND_REDUCED(x.dtype(), "max_pool2d", [&] {  // a maximum is one of its inputs: exact in 16 bits
    const auto* src = static_cast<const scalar_t*>(x.data_ptr());
    auto* dst = static_cast<scalar_t*>(y.data_ptr());
    if (indices.dtype() == DType::UInt8)
      max_fwd<scalar_t, uint8_t><<<blocks_for(n), kThreads, 0, stream_of(x)>>>(w, src, dst, static_cast<uint8_t*>(indices.data_ptr()));
    else
      max_fwd<scalar_t, int64_t><<<blocks_for(n), kThreads, 0, stream_of(x)>>>(w, src, dst, static_cast<int64_t*>(indices.data_ptr()));
  });
  DSVD_CUDA_CHECK("max_pool2d", cudaGetLastError());
}

void max_pool2d_backward(const PoolWindows& w, const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x) {
  fill(grad_x, 0.0);
  const int64_t n = w.planes * w.out_h * w.out_w;
  if (n == 0) return;
  DSVD_DISPATCH_FLOATING(grad_y.dtype(), "max_pool2d_backward", [&] {
    const auto* gy = static_cast<const scalar_t*>(grad_y.data_ptr());
    auto* gx = static_cast<scalar_t*>(grad_x.data_ptr());
    if (indices.dtype() == DType::UInt8)
      max_bwd<scalar_t, uint8_t><<<blocks_for(n), kThreads, 0, stream_of(grad_y)>>>(w, gy, static_cast<const uint8_t*>(indices.data_ptr()), gx);
    else
      max_bwd<scalar_t, int64_t><<<blocks_for(n), kThreads, 0, stream_of(grad_y)>>>(w, gy, static_cast<const int64_t*>(indices.data_ptr()), gx);
  });
  DSVD_CUDA_CHECK("max_pool2d_backward", cudaGetLastError());
}

void avg_pool2d_forward(const PoolWindows& w, bool include_pad, const Tensor& x, const Tensor& y) {
  const int64_t n = w.planes * w.out_h * w.out_w;
  if (n == 0) return;
  DSVD_DISPATCH_FLOATING(x.dtype(), "avg_pool2d", [&] {
    avg_fwd<scalar_t><<<blocks_for(n), kThreads, 0, stream_of(x)>>>(w, include_pad, static_cast<const scalar_t*>(x.data_ptr()),
                                                                     static_cast<scalar_t*>(y.data_ptr()));
  });
  DSVD_CUDA_CHECK("avg_pool2d", cudaGetLastError());
}

void avg_pool2d_backward(const PoolWindows& w, bool include_pad, const Tensor& grad_y, const Tensor& grad_x) {
  fill(grad_x, 0.0);
  const int64_t n = w.planes * w.out_h * w.out_w;
  if (n == 0) return;
  DSVD_DISPATCH_FLOATING(grad_y.dtype(), "avg_pool2d_backward", [&] {
    avg_bwd<scalar_t><<<blocks_for(n), kThreads, 0, stream_of(grad_y)>>>(
        w, include_pad, static_cast<const scalar_t*>(grad_y.data_ptr()), static_cast<scalar_t*>(grad_x.data_ptr()));
  });
  DSVD_CUDA_CHECK("avg_pool2d_backward", cudaGetLastError());
}

void adaptive_avg_pool2d_forward(const Tensor& x, const Tensor& y) {
  const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), OH = y.size(2), OW = y.size(3);
  if (planes * OH * OW == 0) return;
  if (OH == 1 && OW == 1) {  // global average: a row mean per plane
    sum_rows(x, planes, H * W, y, 1.0 / double(H * W));
    return;
  }
  DSVD_DISPATCH_FLOATING(x.dtype(), "adaptive_avg_pool2d", [&] {
    adaptive_fwd<scalar_t><<<blocks_for(planes * OH * OW), kThreads, 0, stream_of(x)>>>(
        planes, H, W, OH, OW, static_cast<const scalar_t*>(x.data_ptr()), static_cast<scalar_t*>(y.data_ptr()));
  });
  DSVD_CUDA_CHECK("adaptive_avg_pool2d", cudaGetLastError());
}

void adaptive_avg_pool2d_backward(const Tensor& grad_y, const Tensor& grad_x) {
  const int64_t planes = grad_x.size(0) * grad_x.size(1), H = grad_x.size(2), W = grad_x.size(3);
  const int64_t OH = grad_y.size(2), OW = grad_y.size(3);
  if (planes * H * W == 0) return;
  DSVD_DISPATCH_FLOATING(grad_y.dtype(), "adaptive_avg_pool2d_backward", [&] {
    adaptive_bwd<scalar_t><<<blocks_for(planes * H * W), kThreads, 0, stream_of(grad_y)>>>(
        planes, H, W, OH, OW, static_cast<const scalar_t*>(grad_y.data_ptr()), static_cast<scalar_t*>(grad_x.data_ptr()));
  });
  DSVD_CUDA_CHECK("adaptive_avg_pool2d_backward", cudaGetLastError());
}

// Max pooling's forward takes 16-bit tensors natively (it only compares and copies); the backward
// passes add overlapping windows and stay on float32 through the kernel table's widening.
// Max and average pooling walk channels-last tensors too (PoolWindows::channels_last).
DSVD_REGISTER_KERNEL_WITH_TRAITS(kernels::MaxPool2dForwardKernel, CUDA, max_pool2d_forward,
                                 kernels::kNativeReducedFloat | kernels::kChannelsLast);
DSVD_REGISTER_KERNEL_WITH_TRAITS(kernels::MaxPool2dBackwardKernel, CUDA, max_pool2d_backward, kernels::kChannelsLast);
DSVD_REGISTER_KERNEL_WITH_TRAITS(kernels::AvgPool2dForwardKernel, CUDA, avg_pool2d_forward, kernels::kChannelsLast);
DSVD_REGISTER_KERNEL_WITH_TRAITS(kernels::AvgPool2dBackwardKernel, CUDA, avg_pool2d_backward, kernels::kChannelsLast);
DSVD_REGISTER_KERNEL(kernels::AdaptiveAvgPool2dForwardKernel, CUDA, adaptive_avg_pool2d_forward);
DSVD_REGISTER_KERNEL(kernels::AdaptiveAvgPool2dBackwardKernel, CUDA, adaptive_avg_pool2d_backward);

}  // namespace dsvd::cuda
