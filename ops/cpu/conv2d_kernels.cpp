#include "ops/cpu/conv2d_kernels.h"

#include <cblas.h>
#include <omp.h>

#include <cstring>
#include <vector>

#include "ops/cpu/flop_counter.h"
#include "tensor/parallel.h"

namespace dsvd::cpu {
namespace {

template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b, int64_t ldb,
          T beta, T* c, int64_t ldc) {
  count_gemm(m, n, k);
  auto tra = ta ? CblasTrans : CblasNoTrans, trb = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, tra, trb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
  else
    cblas_dgemm(CblasRowMajor, tra, trb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

// One column buffer per thread, grown on demand and kept between calls.
template <typename T>
T* thread_buffer(size_t elements, int slot) {
  thread_local std::vector<T> buffers[2];
  auto& b = buffers[slot];
  if (b.size() < elements) b.resize(elements);
  return b.data();
}

// cols[(c·kh + i)·kw + j][oy·OW + ox] = x[c][oy·sh − ph + i·dh][ox·sw − pw + j·dw] (0 outside).
template <typename T>
void im2col(const Conv2dGeometry& g, const T* x, int64_t channels, T* cols) {
  const int64_t P = g.out_h * g.out_w;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < g.kernel_h; ++i)
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        T* row = cols + ((c * g.kernel_h + i) * g.kernel_w + j) * P;
        const T* plane = x + c * g.height * g.width;
        for (int64_t oy = 0; oy < g.out_h; ++oy) {
          int64_t iy = oy * g.stride_h - g.pad_h + i * g.dilation_h;
          T* out = row + oy * g.out_w;
          if (iy < 0 || iy >= g.height) {
            std::memset(out, 0, size_t(g.out_w) * sizeof(T));
            continue;
          }
          const T* src = plane + iy * g.width;
          int64_t x0 = -g.pad_w + j * g.dilation_w;
          if (g.stride_w == 1 && x0 >= 0 && x0 + g.out_w <= g.width) {
            std::memcpy(out, src + x0, size_t(g.out_w) * sizeof(T));
          } else {
            for (int64_t ox = 0; ox < g.out_w; ++ox) {
              int64_t ix = ox * g.stride_w + x0;
              out[ox] = ix >= 0 && ix < g.width ? src[ix] : T(0);
            }
          }
        }
      }
}

// The adjoint of im2col: dx[c][iy][ix] += cols[...].
template <typename T>
void col2im(const Conv2dGeometry& g, const T* cols, int64_t channels, T* dx) {
  const int64_t P = g.out_h * g.out_w;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < g.kernel_h; ++i)
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        const T* row = cols + ((c * g.kernel_h + i) * g.kernel_w + j) * P;
        T* plane = dx + c * g.height * g.width;
        for (int64_t oy = 0; oy < g.out_h; ++oy) {
          int64_t iy = oy * g.stride_h - g.pad_h + i * g.dilation_h;
          if (iy < 0 || iy >= g.height) continue;
          T* dst = plane + iy * g.width;
          const T* in = row + oy * g.out_w;
          int64_t x0 = -g.pad_w + j * g.dilation_w;
          for (int64_t ox = 0; ox < g.out_w; ++ox) {
            int64_t ix = ox * g.stride_w + x0;
            if (ix >= 0 && ix < g.width) dst[ix] += in[ox];
          }
        }
      }
}

template <typename T>
void forward_impl(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t cg = g.in_channels / g.groups, og = g.out_channels / g.groups;
  const int64_t K = cg * g.kernel_h * g.kernel_w, P = g.out_h * g.out_w;
  const bool threads_per_sample = g.batch >= omp_get_max_threads();
  parallel_for(0, g.batch, threads_per_sample, [&](int64_t n) {
    const T* xn = x + n * g.in_channels * g.height * g.width;
    T* yn = y + n * g.out_channels * P;
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      const T* cols = xn + gi * cg * g.height * g.width;
      if (!g.is_pointwise()) {
        T* buffer = thread_buffer<T>(size_t(K * P), 0);
        im2col(g, cols, cg, buffer);
        cols = buffer;
      }
      gemm<T>(false, false, og, P, K, T(1), w + gi * og * K, K, cols, P, T(0), yn + gi * og * P, P);
    }
    if (bias)
      for (int64_t o = 0; o < g.out_channels; ++o) {
        T b = bias[o];
        T* row = yn + o * P;
        for (int64_t p = 0; p < P; ++p) row[p] += b;
      }
  });
}

template <typename T>
void backward_impl(const Conv2dGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db) {
  const int64_t cg = g.in_channels / g.groups, og = g.out_channels / g.groups;
  const int64_t K = cg * g.kernel_h * g.kernel_w, P = g.out_h * g.out_w;
  const int64_t weight_size = g.out_channels * K;
  const bool threads_per_sample = g.batch >= omp_get_max_threads();
  const int slots = threads_per_sample ? omp_get_max_threads() : 1;
  // Weight gradients: one partial sum per thread, added in thread order at the end.
  std::vector<std::vector<T>> partial(dw ? size_t(slots) : 0, std::vector<T>(dw ? size_t(weight_size) : 0, T(0)));
  if (dx) std::memset(dx, 0, size_t(g.batch * g.in_channels * g.height * g.width) * sizeof(T));
  auto per_sample = [&](int64_t n) {
    const int slot = threads_per_sample ? omp_get_thread_num() : 0;
    const T* xn = x + n * g.in_channels * g.height * g.width;
    const T* dyn = dy + n * g.out_channels * P;
    T* dxn = dx ? dx + n * g.in_channels * g.height * g.width : nullptr;
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      const T* dyg = dyn + gi * og * P;
      if (dw) {
        const T* cols = xn + gi * cg * g.height * g.width;
        if (!g.is_pointwise()) {
          T* buffer = thread_buffer<T>(size_t(K * P), 0);
          im2col(g, cols, cg, buffer);
          cols = buffer;
        }
        gemm<T>(false, true, og, K, P, T(1), dyg, P, cols, P, T(1), partial[size_t(slot)].data() + gi * og * K, K);
      }
      if (dxn) {
        T* dxg = dxn + gi * cg * g.height * g.width;
        if (g.is_pointwise()) {
          gemm<T>(true, false, K, P, og, T(1), w + gi * og * K, K, dyg, P, T(0), dxg, P);
        } else {
          T* dcols = thread_buffer<T>(size_t(K * P), 1);
          gemm<T>(true, false, K, P, og, T(1), w + gi * og * K, K, dyg, P, T(0), dcols, P);
          col2im(g, dcols, cg, dxg);
        }
      }
    }
  };
  if (threads_per_sample && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n) per_sample(n);
  } else {
    for (int64_t n = 0; n < g.batch; ++n) per_sample(n);
  }
  if (dw) {
    std::memset(dw, 0, size_t(weight_size) * sizeof(T));
    for (const auto& part : partial)
      for (int64_t i = 0; i < weight_size; ++i) dw[i] += part[size_t(i)];
  }
  if (db) {
    for (int64_t o = 0; o < g.out_channels; ++o) {
      double s = 0;
      for (int64_t n = 0; n < g.batch; ++n) {
        const T* row = dy + (n * g.out_channels + o) * P;
        for (int64_t p = 0; p < P; ++p) s += double(row[p]);
      }
      db[o] = T(s);
    }
  }
}

}  // namespace

void conv2d_forward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y) {
  DSVD_DISPATCH_FLOATING(x.dtype(), "conv2d", [&] {
    forward_impl<scalar_t>(g, x.data<scalar_t>(), w.data<scalar_t>(), bias.defined() ? bias.data<scalar_t>() : nullptr,
                           y.data<scalar_t>());
  });
}

void conv2d_backward(const Conv2dGeometry& g, const Tensor& x, const Tensor& w, const Tensor& grad_y,
                     const Tensor& grad_x, const Tensor& grad_w, const Tensor& grad_b) {
  DSVD_DISPATCH_FLOATING(x.dtype(), "conv2d_backward", [&] {
    backward_impl<scalar_t>(g, x.data<scalar_t>(), w.data<scalar_t>(), grad_y.data<scalar_t>(),
                            grad_x.defined() ? grad_x.data<scalar_t>() : nullptr,
                            grad_w.defined() ? grad_w.data<scalar_t>() : nullptr,
                            grad_b.defined() ? grad_b.data<scalar_t>() : nullptr);
  });
}

}  // namespace dsvd::cpu
