// The window rules of the pooling ops, written once for every device (ops/pooling.cpp plans the
// windows; the CPU kernels in ops/cpu/pooling_kernels.cpp and the CUDA kernels in
// cuda/kernels/pooling.cu walk them with these functions).
#pragma once
#include <cstdint>

#include "ops/kernels/nn.h"
#include "tensor/host_device.h"
#include "tensor/reduced_float.h"

namespace dsvd::math {

// Max pooling's rule, in scan order: a value replaces the running maximum m when it is larger, or
// when it is the first NaN (NaN wins, as in PyTorch; ties keep the first).
template <typename T>
DSVD_HOST_DEVICE bool replaces_max(T v, T m) {
  return (v > m) | ((v != v) & (m == m));
}
// The 16-bit floats compare as the floats they hold (exactly).
template <uint16_t (*FromFloat)(float), float (*ToFloat)(uint16_t)>
DSVD_HOST_DEVICE bool replaces_max(ReducedFloat<FromFloat, ToFloat> v, ReducedFloat<FromFloat, ToFloat> m) {
  return replaces_max(float(v), float(m));
}

// The flat position in the plane of offset ky·kw + kx inside output (oy, ox)'s unclipped window.
DSVD_HOST_DEVICE int64_t window_position(const kernels::PoolWindows& w, int64_t oy, int64_t ox, int64_t offset) {
  return (oy * w.stride_h - w.pad_h + offset / w.kernel_w) * w.width + ox * w.stride_w - w.pad_w + offset % w.kernel_w;
}

// Max pooling of output (oy, ox) over `plane` (H·W values, pixel (y, x) at (y·W + x)·step): the
// maximum (the first one; NaN wins, as in PyTorch) into *value, and its offset ky·kw + kx inside
// the unclipped window (the CPU kernel runs the same scan row-vectorised:
// ops/cpu/pooling_kernels.cpp).
template <typename T>
DSVD_HOST_DEVICE int64_t max_window_offset(const kernels::PoolWindows& w, const T* plane, int64_t oy, int64_t ox,
                                           T* value, int64_t step = 1) {
  const int64_t ys = oy * w.stride_h - w.pad_h, xs = ox * w.stride_w - w.pad_w;  // unclipped window start
  const int64_t ky0 = ys < 0 ? -ys : 0, kx0 = xs < 0 ? -xs : 0;
  const int64_t ky1 = w.kernel_h < w.height - ys ? w.kernel_h : w.height - ys;
  const int64_t kx1 = w.kernel_w < w.width - xs ? w.kernel_w : w.width - xs;
  int64_t best = ky0 * w.kernel_w + kx0;
  T m = plane[((ys + ky0) * w.width + xs + kx0) * step];
  for (int64_t ky = ky0; ky < ky1; ++ky) {
    const T* row = plane + ((ys + ky) * w.width + xs) * step;
    for (int64_t kx = kx0; kx < kx1; ++kx) {
      const T v = row[kx * step];
      const bool take = replaces_max(v, m);
      m = take ? v : m;
      best = take ? ky * w.kernel_w + kx : best;
    }
  }
  *value = m;
  return best;
}

// The same maximum with its flat position in the plane.
template <typename T>
DSVD_HOST_DEVICE int64_t max_window(const kernels::PoolWindows& w, const T* plane, int64_t oy, int64_t ox, T* value,
                                    int64_t step = 1) {
  return window_position(w, oy, ox, max_window_offset(w, plane, oy, ox, value, step));
}

// The argmax kept for the backward: its offset ky·kw + kx inside the (unclipped) window in one
// byte when the window has at most 256 positions (PoolWindows::byte_codes: 1/8 of the memory of
// a flat int64 index, and max-pool indices are among the largest tensors a CNN keeps for
// backward), else the flat position in the plane.
template <typename I>
DSVD_HOST_DEVICE I encode_argmax(const kernels::PoolWindows& w, int64_t oy, int64_t ox, int64_t flat) {
  if constexpr (sizeof(I) == 1) {
    const int64_t y = flat / w.width, x = flat % w.width;
    return I((y - (oy * w.stride_h - w.pad_h)) * w.kernel_w + (x - (ox * w.stride_w - w.pad_w)));
  } else {
    return I(flat);
  }
}

template <typename I>
DSVD_HOST_DEVICE int64_t decode_argmax(const kernels::PoolWindows& w, int64_t oy, int64_t ox, I code) {
  if constexpr (sizeof(I) == 1) {
    return window_position(w, oy, ox, int64_t(code));
  } else {
    return int64_t(code);
  }
}

// Average pooling: the clipped window [y0, y1) × [x0, x1) of output (oy, ox), and its divisor
// (the window size including padding with count_include_pad, else the valid part).
DSVD_HOST_DEVICE double avg_window(const kernels::PoolWindows& w, bool include_pad, int64_t oy, int64_t ox, int64_t& y0,
                                   int64_t& y1, int64_t& x0, int64_t& x1) {
  y0 = oy * w.stride_h - w.pad_h;
  x0 = ox * w.stride_w - w.pad_w;
  y1 = y0 + w.kernel_h < w.height + w.pad_h ? y0 + w.kernel_h : w.height + w.pad_h;
  x1 = x0 + w.kernel_w < w.width + w.pad_w ? x0 + w.kernel_w : w.width + w.pad_w;
  const int64_t padded = (y1 - y0) * (x1 - x0);
  y0 = y0 > 0 ? y0 : 0;
  x0 = x0 > 0 ? x0 : 0;
  y1 = y1 < w.height ? y1 : w.height;
  x1 = x1 < w.width ? x1 : w.width;
  return double(include_pad ? padded : (y1 - y0) * (x1 - x0));
}

// Adaptive average pooling: output i of `out` covers [floor(i·in/out), ceil((i+1)·in/out)).
DSVD_HOST_DEVICE void adaptive_bounds(int64_t i, int64_t in, int64_t out, int64_t& lo, int64_t& hi) {
  lo = (i * in) / out;
  hi = ((i + 1) * in + out - 1) / out;
}

}  // namespace dsvd::math
