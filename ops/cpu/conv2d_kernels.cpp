#include "ops/cpu/conv2d_kernels.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>

#include "ops/cpu/conv2d_onednn.h"
#include "tensor/profiler.h"

#include <omp.h>

#include <cstring>
#include <vector>

#include "ops/cpu/blas.h"
#include "ops/math/elementwise.h"
#include "tensor/parallel.h"

namespace dsvd::cpu {
namespace {

// Buffers reused across calls (grown on demand): the column matrix, its gradient, and the
// output/gradient in (O, B·P) layout. Convolutions run from one thread at a time.
template <typename T>
T* reusable_buffer(size_t elements, int slot) {
  thread_local std::vector<T> buffers[3];
  auto& b = buffers[slot];
  if (b.size() < elements) b.resize(elements);
  return b.data();
}

// The output columns ox whose input column ox·sw + x0 lies inside [0, width): [lo, hi).
inline void valid_columns(int64_t x0, int64_t stride, int64_t width, int64_t out_w, int64_t& lo, int64_t& hi) {
  lo = x0 >= 0 ? 0 : (-x0 + stride - 1) / stride;
  hi = x0 > width - 1 ? 0 : std::min<int64_t>(out_w, (width - 1 - x0) / stride + 1);
  if (hi < lo) hi = lo;
}

// cols[(c·kh + i)·kw + j][p] (row stride ld) = x[c][oy·sh − ph + i·dh][ox·sw − pw + j·dw], 0 outside.
template <typename T>
void im2col(const Conv2dGeometry& g, const T* x, int64_t channels, T* cols, int64_t ld) {
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < g.kernel_h; ++i)
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        T* row = cols + ((c * g.kernel_h + i) * g.kernel_w + j) * ld;
        const T* plane = x + c * g.height * g.width;
        const int64_t x0 = -g.pad_w + j * g.dilation_w;
        int64_t lo, hi;
        valid_columns(x0, g.stride_w, g.width, g.out_w, lo, hi);
        for (int64_t oy = 0; oy < g.out_h; ++oy) {
          const int64_t iy = oy * g.stride_h - g.pad_h + i * g.dilation_h;
          T* out = row + oy * g.out_w;
          if (iy < 0 || iy >= g.height) {
            for (int64_t ox = 0; ox < g.out_w; ++ox) out[ox] = T(0);
            continue;
          }
          const T* src = plane + iy * g.width + x0;
          for (int64_t ox = 0; ox < lo; ++ox) out[ox] = T(0);
          if (g.stride_w == 1) {
            for (int64_t ox = lo; ox < hi; ++ox) out[ox] = src[ox];
          } else {
            for (int64_t ox = lo; ox < hi; ++ox) out[ox] = src[ox * g.stride_w];
          }
          for (int64_t ox = hi; ox < g.out_w; ++ox) out[ox] = T(0);
        }
      }
}

// The adjoint of im2col: dx[c][iy][ix] += cols[...].
template <typename T>
void col2im(const Conv2dGeometry& g, const T* cols, int64_t ld, int64_t channels, T* dx) {
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < g.kernel_h; ++i)
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        const T* row = cols + ((c * g.kernel_h + i) * g.kernel_w + j) * ld;
        T* plane = dx + c * g.height * g.width;
        const int64_t x0 = -g.pad_w + j * g.dilation_w;
        int64_t lo, hi;
        valid_columns(x0, g.stride_w, g.width, g.out_w, lo, hi);
        for (int64_t oy = 0; oy < g.out_h; ++oy) {
          const int64_t iy = oy * g.stride_h - g.pad_h + i * g.dilation_h;
          if (iy < 0 || iy >= g.height) continue;
          T* dst = plane + iy * g.width + x0;
          const T* in = row + oy * g.out_w;
          if (g.stride_w == 1) {
            for (int64_t ox = lo; ox < hi; ++ox) dst[ox] += in[ox];
          } else {
            for (int64_t ox = lo; ox < hi; ++ox) dst[ox * g.stride_w] += in[ox];
          }
        }
      }
}

// Samples per chunk: enough that the GEMM has about kTargetColumns columns (small feature maps
// would otherwise re-read the weights once per sample), few enough that the column matrix
// (K × chunk·P) stays within kMaxColumnElements and close to the caches.
constexpr int64_t kTargetColumns = 2048;
constexpr int64_t kMaxColumnElements = int64_t(1) << 22;

int64_t chunk_size(const Conv2dGeometry& g, int64_t K, int64_t P) {
  int64_t wanted = (kTargetColumns + P - 1) / P;
  int64_t fits = std::max<int64_t>(1, kMaxColumnElements / std::max<int64_t>(1, K * P));
  return std::max<int64_t>(1, std::min({g.batch, wanted, fits}));
}

// One GEMM per group over a whole chunk of samples: cols (K, Bc·P) holds the chunk's columns
// side by side, so the weights are read once per chunk and BLAS gets large matrices.
template <typename T>
void forward_impl(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t cg = g.in_channels / g.groups, og = g.out_channels / g.groups;
  const int64_t K = cg * g.kernel_h * g.kernel_w, P = g.out_h * g.out_w;
  const int64_t chunk = chunk_size(g, K, P);
  for (int64_t n0 = 0; n0 < g.batch; n0 += chunk) {
    const int64_t bc = std::min(chunk, g.batch - n0), ld = bc * P;
    const bool direct = bc == 1;  // one sample: GEMM straight into y, no reordering
    const bool no_columns = direct && g.is_pointwise();  // 1×1, stride 1: x itself is the column matrix
    T* cols = no_columns ? nullptr : reusable_buffer<T>(size_t(K * ld), 0);
    T* out = direct ? nullptr : reusable_buffer<T>(size_t(og * ld), 2);
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      const T* xg = x + (n0 * g.in_channels + gi * cg) * g.height * g.width;
      const T* columns = xg;
      if (!no_columns) {
        parallel_for(0, bc, bc * K * P > kParallelGrain, [&](int64_t b) {
          im2col(g, x + ((n0 + b) * g.in_channels + gi * cg) * g.height * g.width, cg, cols + b * P, ld);
        });
        columns = cols;
      }
      if (direct) {
        T* yg = y + (n0 * g.out_channels + gi * og) * P;
        blas_gemm<T>(false, false, og, P, K, T(1), w + gi * og * K, K, columns, P, T(0), yg, P);
        if (bias)
          parallel_for(0, og, og * P > kParallelGrain, [&](int64_t o) {
            const T add = bias[gi * og + o];
            for (int64_t p = 0; p < P; ++p) yg[o * P + p] += add;
          });
        continue;
      }
      blas_gemm<T>(false, false, og, ld, K, T(1), w + gi * og * K, K, columns, ld, T(0), out, ld);
      // (og, Bc·P) -> y[n][gi·og + o][p], adding the bias.
      parallel_for(0, bc * og, bc * og * P > kParallelGrain, [&](int64_t r) {
        const int64_t b = r / og, o = r % og;
        const T* src = out + o * ld + b * P;
        T* dst = y + ((n0 + b) * g.out_channels + gi * og + o) * P;
        const T add = bias ? bias[gi * og + o] : T(0);
        for (int64_t p = 0; p < P; ++p) dst[p] = src[p] + add;
      });
    }
  }
}

template <typename T>
void backward_impl(const Conv2dGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db) {
  const int64_t cg = g.in_channels / g.groups, og = g.out_channels / g.groups;
  const int64_t K = cg * g.kernel_h * g.kernel_w, P = g.out_h * g.out_w;
  const int64_t chunk = chunk_size(g, K, P);
  if (dx) std::memset(dx, 0, size_t(g.batch * g.in_channels * g.height * g.width) * sizeof(T));
  if (dw) std::memset(dw, 0, size_t(g.out_channels * K) * sizeof(T));
  std::vector<double> bias_sum(db ? size_t(g.out_channels) : 0, 0.0);
  for (int64_t n0 = 0; n0 < g.batch; n0 += chunk) {
    const int64_t bc = std::min(chunk, g.batch - n0), ld = bc * P;
    const bool direct = bc == 1;
    const bool no_columns = direct && g.is_pointwise();
    T* cols = no_columns ? nullptr : reusable_buffer<T>(size_t(K * ld), 0);
    T* dcols = no_columns ? nullptr : reusable_buffer<T>(size_t(K * ld), 1);
    T* dyt_buffer = direct ? nullptr : reusable_buffer<T>(size_t(og * ld), 2);
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      // dy of the chunk as (og, Bc·P): the sample's own block when the chunk is one sample.
      const T* dyt = direct ? dy + (n0 * g.out_channels + gi * og) * P : dyt_buffer;
      if (!direct)
        parallel_for(0, bc * og, bc * og * P > kParallelGrain, [&](int64_t r) {
          const int64_t b = r / og, o = r % og;
          std::memcpy(dyt_buffer + o * ld + b * P, dy + ((n0 + b) * g.out_channels + gi * og + o) * P,
                      size_t(P) * sizeof(T));
        });
      if (db)
        for (int64_t o = 0; o < og; ++o) {
          double s = 0;
          for (int64_t q = 0; q < ld; ++q) s += double(dyt[o * ld + q]);
          bias_sum[size_t(gi * og + o)] += s;
        }
      const T* xg = x + (n0 * g.in_channels + gi * cg) * g.height * g.width;
      if (dw) {
        const T* columns = xg;
        if (!no_columns) {
          parallel_for(0, bc, bc * K * P > kParallelGrain, [&](int64_t b) {
            im2col(g, x + ((n0 + b) * g.in_channels + gi * cg) * g.height * g.width, cg, cols + b * P, ld);
          });
          columns = cols;
        }
        blas_gemm<T>(false, true, og, K, ld, T(1), dyt, ld, columns, ld, T(1), dw + gi * og * K, K);
      }
      if (dx) {
        T* dxg = dx + (n0 * g.in_channels + gi * cg) * g.height * g.width;
        if (no_columns) {
          blas_gemm<T>(true, false, K, P, og, T(1), w + gi * og * K, K, dyt, P, T(0), dxg, P);
        } else {
          blas_gemm<T>(true, false, K, ld, og, T(1), w + gi * og * K, K, dyt, ld, T(0), dcols, ld);
          parallel_for(0, bc, bc * K * P > kParallelGrain, [&](int64_t b) {
            col2im(g, dcols + b * P, ld, cg, dx + ((n0 + b) * g.in_channels + gi * cg) * g.height * g.width);
          });
        }
      }
    }
  }
  if (db)
    for (int64_t o = 0; o < g.out_channels; ++o) db[o] = T(bias_sum[size_t(o)]);
}

}  // namespace

void im2col_conv2d_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias,
                           const Tensor& y) {
  DSVD_DISPATCH_FLOATING(x.dtype(), "conv2d", [&] {
    forward_impl<scalar_t>(g, x.data<scalar_t>(), w.data<scalar_t>(), bias.defined() ? bias.data<scalar_t>() : nullptr,
                           y.data<scalar_t>());
  });
}

void im2col_conv2d_backward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& grad_y,
                            const Tensor& grad_x, const Tensor& grad_w, const Tensor& grad_b) {
  DSVD_DISPATCH_FLOATING(x.dtype(), "conv2d_backward", [&] {
    backward_impl<scalar_t>(g, x.data<scalar_t>(), w.data<scalar_t>(), grad_y.data<scalar_t>(),
                            grad_x.defined() ? grad_x.data<scalar_t>() : nullptr,
                            grad_w.defined() ? grad_w.data<scalar_t>() : nullptr,
                            grad_b.defined() ? grad_b.data<scalar_t>() : nullptr);
  });
}

namespace {
std::atomic<int> pinned_path{-1};  // set_cpu_conv_path: -1 none, else a CpuConvPath
}  // namespace

void set_cpu_conv_path(CpuConvPath path) {
  DSVD_CHECK(path == CpuConvPath::Im2col || onednn_available(), "conv2d: dsvd was built without oneDNN");
  pinned_path = int(path);
}

CpuConvPath cpu_conv_path(DType dtype) {
  if (dtype != DType::Float32) return CpuConvPath::Im2col;
  if (pinned_path >= 0) return CpuConvPath(pinned_path.load());
  static const int chosen = [] {
    const char* v = std::getenv("DSVD_CPU_CONV");
    const std::string path = v ? v : "";
    DSVD_CHECK(path.empty() || path == "auto" || path == "im2col" || path == "onednn" || path == "onednn-whole-batch",
               "DSVD_CPU_CONV must be auto, im2col, onednn or onednn-whole-batch, got '", path, "'");
    DSVD_CHECK(path.empty() || path == "im2col" || onednn_available(), "DSVD_CPU_CONV=", path,
               ", but dsvd was built without oneDNN");
    if (path == "im2col") return int(CpuConvPath::Im2col);
    if (path == "onednn-whole-batch") return int(CpuConvPath::OneDnnWholeBatch);
    if (path == "onednn") return int(CpuConvPath::OneDnn);
    return onednn_available() ? int(CpuConvPath::Auto) : int(CpuConvPath::Im2col);
  }();
  return CpuConvPath(chosen);
}

const char* cpu_conv_path_name(CpuConvPath path) {
  switch (path) {
    case CpuConvPath::Im2col: return "im2col";
    case CpuConvPath::OneDnn: return "onednn (weight gradients in chunks of the batch)";
    case CpuConvPath::OneDnnWholeBatch: return "onednn-whole-batch";
    case CpuConvPath::Auto: return "auto (oneDNN; pointwise convolutions on planes of 28x28 or more on the im2col GEMM)";
  }
  return "?";
}

// Measured on R50-224 (docs/cpu-performance.md): at 56x56 the GEMM beats oneDNN plus its reorders
// on every pointwise convolution (36 -> 23 ms a step for the backward of 64->256), at 28x28 it is
// level or ahead, at 7x7 oneDNN is ahead (its reorders are small there, its kernel faster).
bool gemm_for_pointwise(const Conv2dGeometry& g) {
  return g.is_pointwise() && g.groups == 1 && g.dilation_h == 1 && g.dilation_w == 1 && g.out_h * g.out_w >= 28 * 28;
}

namespace {

// The path of one geometry: Auto resolved.
CpuConvPath path_for(const Conv2dGeometry& g, DType dtype) {
  const CpuConvPath path = cpu_conv_path(dtype);
  if (path != CpuConvPath::Auto) return path;
  return gemm_for_pointwise(g) ? CpuConvPath::Im2col : CpuConvPath::OneDnn;
}

std::mutex profile_mutex;
std::map<std::string, double> profile_flops;

// "conv2d forward 64->64 3x3/2 p1 56x56 b8": the pass and the geometry.
std::string profile_name(const char* pass, const Conv2dGeometry& g) {
  char text[160];
  std::snprintf(text, sizeof text, "conv2d %s %lld->%lld %lldx%lld/%lld p%lld%s %lldx%lld b%lld", pass,
                (long long)g.in_channels, (long long)g.out_channels, (long long)g.kernel_h, (long long)g.kernel_w,
                (long long)g.stride_h, (long long)g.pad_h, g.groups > 1 ? (" g" + std::to_string(g.groups)).c_str() : "",
                (long long)g.height, (long long)g.width, (long long)g.batch);
  return text;
}

void add_profile_flops(const std::string& name, const Conv2dGeometry& g, int passes) {
  const double flops = 2.0 * passes * double(g.out_channels) * double(g.batch * g.out_h * g.out_w) *
                       double(g.in_channels / g.groups * g.kernel_h * g.kernel_w);
  std::lock_guard<std::mutex> lock(profile_mutex);
  profile_flops[name] += flops;
}

// A profile range over `passes` passes of the same size, when profiling.
struct PassRange {
  std::optional<ProfileRange> range;
  PassRange(const char* pass, const Conv2dGeometry& g, int passes = 1) {
    if (!profiling()) return;
    const std::string name = profile_name(pass, g);
    add_profile_flops(name, g, passes);
    range.emplace(name);
  }
};

void conv2d_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                    Tensor& x_workspace) {
  PassRange profile("forward", g);
  if (path_for(g, x.dtype()) == CpuConvPath::Im2col) im2col_conv2d_forward(g, x, w, bias, y);
  else onednn_conv2d_forward(g, x, w, bias, y, &x_workspace);
}

// The convolution, then ReLU in place on y (kernels::Conv2dReluForwardKernel): one tensor and one
// op fewer than conv2d followed by relu, the same values.
void conv2d_relu_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                         Tensor& x_workspace) {
  conv2d_forward(g, x, w, bias, y, x_workspace);
  const int64_t n = y.numel();
  DSVD_DISPATCH_FLOATING(y.dtype(), "conv2d_relu", [&] {
    scalar_t* p = y.data<scalar_t>();
    parallel_for(0, n, n > kParallelGrain,
                 [&](int64_t i) { p[i] = math::unary<math::UnaryOp::Relu, scalar_t>(p[i], 0, 0); });
  });
}

void conv2d_backward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& grad_y,
                     const Tensor& grad_x, const Tensor& grad_w, const Tensor& grad_b, const Tensor& x_workspace) {
  const int passes = int(grad_x.defined()) + int(grad_w.defined());
  const CpuConvPath path = path_for(g, x.dtype());
  switch (path) {
    case CpuConvPath::Auto:  // resolved by path_for
    case CpuConvPath::Im2col: {
      PassRange profile("backward", g, passes);
      return im2col_conv2d_backward(g, x, w, grad_y, grad_x, grad_w, grad_b);
    }
    case CpuConvPath::OneDnn:
    case CpuConvPath::OneDnnWholeBatch: {
      const bool chunked = path == CpuConvPath::OneDnn;
      // One call for both gradients (the weights' gradient reuses dy's reorder); separate calls
      // while profiling, so that each pass is timed on its own.
      if (!profiling()) return onednn_conv2d_backward(g, x, w, grad_y, grad_x, grad_w, grad_b, chunked, x_workspace);
      if (grad_x.defined()) {
        PassRange profile("grad-input", g);
        onednn_conv2d_backward(g, x, w, grad_y, grad_x, Tensor(), Tensor(), chunked);
      }
      if (grad_w.defined() || grad_b.defined()) {
        PassRange profile("grad-weight", g);
        onednn_conv2d_backward(g, x, w, grad_y, Tensor(), grad_w, grad_b, chunked, x_workspace);
      }
      return;
    }
  }
}

}  // namespace

std::map<std::string, double> take_conv_profile_flops() {
  std::lock_guard<std::mutex> lock(profile_mutex);
  std::map<std::string, double> out;
  out.swap(profile_flops);
  return out;
}

}  // namespace dsvd::cpu

#include "ops/kernel_table.h"

namespace dsvd::cpu {
DSVD_REGISTER_KERNEL(kernels::Conv2dForwardKernel, CPU, conv2d_forward);
DSVD_REGISTER_KERNEL(kernels::Conv2dBackwardKernel, CPU, conv2d_backward);
DSVD_REGISTER_KERNEL(kernels::Conv2dReluForwardKernel, CPU, conv2d_relu_forward);
}  // namespace dsvd::cpu
