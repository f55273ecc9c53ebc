// Row reductions on the GPU over contiguous (outer, inner) rows: sum, variance, max with its
// index and the scatter that is max's backward; row-wise log-softmax; cross-entropy on
// log-probabilities. One block per row (grid-stride over rows); float rows accumulate in float
// like PyTorch's kernels, float64 rows in double.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <string>

#include "cuda/context.h"
#include "cuda/kernels/block_reduce.cuh"
#include "cuda/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/reduce.h"
#include "tensor/dtype.h"

namespace dsvd::cuda {
namespace {

template <typename T> struct Acc { using type = T; };
template <> struct Acc<uint8_t> { using type = int64_t; };

template <typename T, typename O>
__global__ void sum_rows_kernel(const T* rows, int64_t outer, int64_t inner, O* out, double scale) {
  using A = typename Acc<O>::type;
  for (int64_t r = blockIdx.x; r < outer; r += gridDim.x) {
    const T* p = rows + r * inner;
    A s = 0;
    for (int64_t i = threadIdx.x; i < inner; i += blockDim.x) s += A(p[i]);
    s = block_sum<A>(s);
    if (threadIdx.x == 0) out[r] = scale == 1.0 ? O(s) : O(double(s) * scale);
  }
}

template <typename T>
__global__ void var_rows_kernel(const T* rows, int64_t outer, int64_t inner, int64_t correction, T* out) {
  for (int64_t r = blockIdx.x; r < outer; r += gridDim.x) {
    const T* p = rows + r * inner;
    double s = 0;
    for (int64_t i = threadIdx.x; i < inner; i += blockDim.x) s += double(p[i]);
    const double mean = block_sum<double>(s) / double(inner);
    double ss = 0;
    for (int64_t i = threadIdx.x; i < inner; i += blockDim.x) {
      double d = double(p[i]) - mean;
      ss += d * d;
    }
    ss = block_sum<double>(ss);
    if (threadIdx.x == 0) out[r] = T(inner - correction > 0 ? ss / double(inner - correction) : nan(""));
  }
}

// (value, index) order for max: NaN first, then larger values, then the smaller index.
template <typename T>
__device__ __forceinline__ bool better(T v, int64_t i, T w, int64_t j) {
  bool vn = v != v, wn = w != w;
  if (vn != wn) return vn;
  if (!vn && v != w) return v > w;
  return i < j;
}

template <typename T>
__global__ void max_rows_kernel(const T* rows, int64_t outer, int64_t inner, T* values, int64_t* indices) {
  __shared__ T sv[kThreads];
  __shared__ int64_t si[kThreads];
  for (int64_t r = blockIdx.x; r < outer; r += gridDim.x) {
    const T* p = rows + r * inner;
    T best = p[0];
    int64_t at = 0;
    for (int64_t i = threadIdx.x; i < inner; i += blockDim.x)
      if (better(p[i], i, best, at)) best = p[i], at = i;
    sv[threadIdx.x] = best;
    si[threadIdx.x] = at;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s && better(sv[threadIdx.x + s], si[threadIdx.x + s], sv[threadIdx.x], si[threadIdx.x])) {
        sv[threadIdx.x] = sv[threadIdx.x + s];
        si[threadIdx.x] = si[threadIdx.x + s];
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      values[r] = sv[0];
      indices[r] = si[0];
    }
    __syncthreads();
  }
}

template <typename T>
__global__ void scatter_rows_kernel(const T* grad, const int64_t* indices, int64_t outer, int64_t inner, T* out) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < outer; r += int64_t(gridDim.x) * blockDim.x)
    out[r * inner + indices[r]] = grad[r];
}

template <typename T>
__global__ void log_softmax_kernel(const T* x, T* y, int64_t rows, int64_t cols) {
  __shared__ T sm[kThreads];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* in = x + r * cols;
    T m = in[0];
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) m = in[c] > m ? in[c] : m;
    sm[threadIdx.x] = m;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s && sm[threadIdx.x + s] > sm[threadIdx.x]) sm[threadIdx.x] = sm[threadIdx.x + s];
      __syncthreads();
    }
    m = sm[0];
    __syncthreads();
    double s = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += exp(double(in[c] - m));
    const T log_sum = T(log(block_sum<double>(s)));
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) y[r * cols + c] = in[c] - m - log_sum;
  }
}

// Per-sample loss; a target outside [0, c) gives a NaN loss and its sample index in *bad (the
// smallest such index: *bad starts at ~0).
template <typename T>
__global__ void cross_entropy_rows(const T* logp, const int64_t* targets, int64_t n, int64_t c, double eps, T* row_loss,
                                   unsigned long long* bad) {
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const int64_t t = targets[i];
    if (t < 0 || t >= c) {
      if (threadIdx.x == 0) {
        atomicMin(bad, (unsigned long long)i);
        row_loss[i] = T(NAN);
      }
      continue;
    }
    double s = 0;
    if (eps > 0)
      for (int64_t k = threadIdx.x; k < c; k += blockDim.x) s += double(logp[i * c + k]);
    s = block_sum<double>(s);
    if (threadIdx.x == 0) row_loss[i] = T(-((1 - eps) * double(logp[i * c + t]) + eps / double(c) * s));
  }
}

template <typename T>
__global__ void cross_entropy_backward_kernel(const T* logp, const int64_t* targets, int64_t n, int64_t c, double eps,
                                              const T* grad_loss, T* grad) {
  const double scale = double(*grad_loss) / double(n);
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n * c; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / c, k = e % c;
    const double q = eps / double(c) + (k == targets[i] ? 1 - eps : 0.0);
    grad[e] = T((exp(double(logp[e])) - q) * scale);
  }
}

unsigned row_blocks(int64_t rows) { return unsigned(rows < 1 ? 1 : (rows > 65535 * 4 ? 65535 * 4 : rows)); }

}  // namespace

namespace {
void scaled_sum_rows(const Tensor& rows, int64_t outer, int64_t inner, const Tensor& out, double scale) {
  if (outer == 0) return;
  if (inner == 0) return fill(out, 0.0);
  cudaStream_t s = stream_of(rows);
  DSVD_DISPATCH_ALL(rows.dtype(), "sum", [&] {
    using T = scalar_t;
    const T* p = static_cast<const T*>(rows.data_ptr());
    if constexpr (std::is_floating_point_v<T>) {
      sum_rows_kernel<T, T><<<row_blocks(outer), kThreads, 0, s>>>(p, outer, inner, static_cast<T*>(out.data_ptr()), scale);
    } else {
      sum_rows_kernel<T, int64_t><<<row_blocks(outer), kThreads, 0, s>>>(p, outer, inner, static_cast<int64_t*>(out.data_ptr()), 1.0);
    }
  });
  DSVD_CUDA_CHECK("sum", cudaGetLastError());
}
}  // namespace

void sum_rows(const Tensor& rows, int64_t outer, int64_t inner, const Tensor& out, double scale) {
  scaled_sum_rows(rows, outer, inner, out, scale);
}

void var_rows(const Tensor& rows, int64_t outer, int64_t inner, int64_t correction, const Tensor& out) {
  if (outer == 0) return;
  DSVD_DISPATCH_FLOATING(rows.dtype(), "var", [&] {
    var_rows_kernel<scalar_t><<<row_blocks(outer), kThreads, 0, stream_of(rows)>>>(
        static_cast<const scalar_t*>(rows.data_ptr()), outer, inner, correction, static_cast<scalar_t*>(out.data_ptr()));
  });
  DSVD_CUDA_CHECK("var", cudaGetLastError());
}

void max_rows(const Tensor& rows, int64_t outer, int64_t inner, const Tensor& values, const Tensor& indices) {
  if (outer == 0) return;
  DSVD_DISPATCH_ALL(rows.dtype(), "max", [&] {
    max_rows_kernel<scalar_t><<<row_blocks(outer), kThreads, 0, stream_of(rows)>>>(
        static_cast<const scalar_t*>(rows.data_ptr()), outer, inner, static_cast<scalar_t*>(values.data_ptr()),
        static_cast<int64_t*>(indices.data_ptr()));
  });
  DSVD_CUDA_CHECK("max", cudaGetLastError());
}

void scatter_rows(const Tensor& grad, const Tensor& indices, int64_t outer, int64_t inner, const Tensor& out) {
  if (outer == 0) return;
  DSVD_DISPATCH_FLOATING(grad.dtype(), "max_backward", [&] {
    scatter_rows_kernel<scalar_t><<<blocks_for(outer), kThreads, 0, stream_of(grad)>>>(
        static_cast<const scalar_t*>(grad.data_ptr()), static_cast<const int64_t*>(indices.data_ptr()), outer, inner,
        static_cast<scalar_t*>(out.data_ptr()));
  });
  DSVD_CUDA_CHECK("max_backward", cudaGetLastError());
}

void log_softmax_rows(const Tensor& x, const Tensor& y, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  DSVD_DISPATCH_FLOATING(x.dtype(), "log_softmax", [&] {
    log_softmax_kernel<scalar_t><<<row_blocks(rows), kThreads, 0, stream_of(x)>>>(
        static_cast<const scalar_t*>(x.data_ptr()), static_cast<scalar_t*>(y.data_ptr()), rows, cols);
  });
  DSVD_CUDA_CHECK("log_softmax", cudaGetLastError());
}

void cross_entropy_forward(const Tensor& logp, const Tensor& targets, double smoothing, const Tensor& loss) {
  const int64_t n = logp.size(0), c = logp.size(1);
  const int device = logp.device().index;
  raise_deferred_errors(device, false);  // a bad target of an earlier call, if its verdict is in
  Tensor row_loss = empty({n}, logp.dtype(), logp.device());
  Tensor bad = empty({1}, DType::Int64, logp.device());
  cudaStream_t s = stream_of(logp);
  DSVD_CUDA_CHECK("cross_entropy", cudaMemsetAsync(bad.data_ptr(), 0xFF, sizeof(int64_t), s));  // -1: none
  DSVD_DISPATCH_FLOATING(logp.dtype(), "cross_entropy", [&] {
    cross_entropy_rows<scalar_t><<<row_blocks(n), kThreads, 0, s>>>(
        static_cast<const scalar_t*>(logp.data_ptr()), static_cast<const int64_t*>(targets.data_ptr()), n, c, smoothing,
        static_cast<scalar_t*>(row_loss.data_ptr()), static_cast<unsigned long long*>(bad.data_ptr()));
  });
  DSVD_CUDA_CHECK("cross_entropy", cudaGetLastError());
  // The verdict arrives with the next synchronisation (the host does not wait for it here).
  defer_check(bad, [targets, c](int64_t sample) {
    int64_t t = 0;
    cudaMemcpy(&t, static_cast<const int64_t*>(targets.data_ptr()) + sample, sizeof t, cudaMemcpyDeviceToHost);
    return "cross_entropy: target " + std::to_string(t) + " of sample " + std::to_string(sample) + " is outside [0, " +
           std::to_string(c) + ")";
  });
  scaled_sum_rows(row_loss, 1, n, loss, 1.0 / double(n));  // the mean over samples (NaN if a target was bad)
}

void cross_entropy_backward(const Tensor& logp, const Tensor& targets, double smoothing, const Tensor& grad_loss,
                            const Tensor& grad) {
  const int64_t n = logp.size(0), c = logp.size(1);
  DSVD_DISPATCH_FLOATING(logp.dtype(), "cross_entropy_backward", [&] {
    cross_entropy_backward_kernel<scalar_t><<<blocks_for(n * c), kThreads, 0, stream_of(logp)>>>(
        static_cast<const scalar_t*>(logp.data_ptr()), static_cast<const int64_t*>(targets.data_ptr()), n, c, smoothing,
        static_cast<const scalar_t*>(grad_loss.data_ptr()), static_cast<scalar_t*>(grad.data_ptr()));
  });
  DSVD_CUDA_CHECK("cross_entropy_backward", cudaGetLastError());
}

namespace {
void sum_rows_unscaled(const Tensor& rows, int64_t outer, int64_t inner, const Tensor& out) {
  scaled_sum_rows(rows, outer, inner, out, 1.0);
}
}  // namespace

DSVD_REGISTER_KERNEL(kernels::SumRowsKernel, CUDA, sum_rows_unscaled);
DSVD_REGISTER_KERNEL(kernels::VarRowsKernel, CUDA, var_rows);
DSVD_REGISTER_KERNEL(kernels::MaxRowsKernel, CUDA, max_rows);
DSVD_REGISTER_KERNEL(kernels::ScatterRowsKernel, CUDA, scatter_rows);
DSVD_REGISTER_KERNEL(kernels::LogSoftmaxRowsKernel, CUDA, log_softmax_rows);
DSVD_REGISTER_KERNEL(kernels::CrossEntropyForwardKernel, CUDA, cross_entropy_forward);
DSVD_REGISTER_KERNEL(kernels::CrossEntropyBackwardKernel, CUDA, cross_entropy_backward);

}  // namespace dsvd::cuda
