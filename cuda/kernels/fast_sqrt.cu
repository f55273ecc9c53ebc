// The fast square roots fused, one thread block per matrix (ops/kernels/linalg.h MtpForwardKernel,
// MpaForwardKernel and LyapunovSignKernel): the steps of ops/math/fast_sqrt.h run by a CUDA
// thread block whose matrices live in shared memory, so that the whole forward (norm, the Horner
// polynomial(s), MPA's LU solve with partial pivoting) or the whole sign iteration is one launch.
#include <cmath>
#include <type_traits>

#include "cuda/context.h"
#include "cuda/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"
#include "ops/math/fast_sqrt.h"

namespace dsvd::cuda {
namespace {

constexpr int kGrid = 16;             // threads per side of the block's square of threads
constexpr int kBlock = kGrid * kGrid;  // 256
constexpr int kMaxTile = 6;            // outputs per thread and side: n <= 96

// The block of ops/math/fast_sqrt.h on a CUDA thread block of kBlock threads.
template <typename T, int TILE>
struct DeviceBlock {
  template <typename F>
  __device__ void for_each(int count, F f) {
    for (int e = threadIdx.x; e < count; e += blockDim.x) f(e);
    __syncthreads();
  }

  // Thread (ty, tx) of the 16×16 square computes rows ty + 16p and columns tx + 16q (p, q < TILE
  // = ⌈n/16⌉): each value it loads serves TILE products, a warp reads consecutive columns of b
  // (no bank conflicts) and two rows of a (broadcasts).
  __device__ void product(const T* a, const T* b, T* out, int n, T alpha, const T* c, T beta) {
    const int tx = threadIdx.x % kGrid, ty = threadIdx.x / kGrid;
    T acc[TILE][TILE];
#pragma unroll
    for (int p = 0; p < TILE; ++p)
#pragma unroll
      for (int q = 0; q < TILE; ++q) acc[p][q] = T(0);
    for (int k = 0; k < n; ++k) {
      T av[TILE], bv[TILE];
#pragma unroll
      for (int p = 0; p < TILE; ++p) {
        const int i = ty + kGrid * p, j = tx + kGrid * p;
        av[p] = i < n ? a[i * n + k] : T(0);
        bv[p] = j < n ? b[k * n + j] : T(0);
      }
#pragma unroll
      for (int p = 0; p < TILE; ++p)
#pragma unroll
        for (int q = 0; q < TILE; ++q) acc[p][q] += av[p] * bv[q];
    }
#pragma unroll
    for (int p = 0; p < TILE; ++p)
#pragma unroll
      for (int q = 0; q < TILE; ++q) {
        const int i = ty + kGrid * p, j = tx + kGrid * q;
        if (i < n && j < n) out[i * n + j] = alpha * acc[p][q] + (c ? beta * c[i * n + j] : T(0));
      }
    __syncthreads();
  }

  // Σ v² in double, a tree over the block's threads.
  __device__ T sum_of_squares(const T* v, int count) {
    __shared__ double partial[kBlock];
    double s = 0;
    for (int e = threadIdx.x; e < count; e += blockDim.x) s += double(v[e]) * double(v[e]);
    partial[threadIdx.x] = s;
    __syncthreads();
    for (int half = kBlock / 2; half > 0; half /= 2) {
      if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
      __syncthreads();
    }
    const T total = T(partial[0]);
    __syncthreads();
    return total;
  }

  // Warp 0 finds the largest |lhs[r, col]|, r >= col (the first of equals), by a shuffle reduction.
  __device__ int pivot_row(const T* lhs, int col, int n) {
    __shared__ int pivot;
    if (threadIdx.x < 32) {
      double best = -1;
      int row = col;
      for (int r = col + int(threadIdx.x); r < n; r += 32) {
        const double v = fabs(double(lhs[r * n + col]));
        if (v > best) best = v, row = r;
      }
      for (int offset = 16; offset > 0; offset /= 2) {
        const double other = __shfl_down_sync(0xffffffffu, best, offset);
        const int other_row = __shfl_down_sync(0xffffffffu, row, offset);
        if (other > best || (other == best && other_row < row)) best = other, row = other_row;
      }
      if (threadIdx.x == 0) pivot = row;
    }
    __syncthreads();
    const int chosen = pivot;
    __syncthreads();  // every thread has read it before the next column's search writes it
    return chosen;
  }
};

template <typename T, int TILE>
__global__ void mtp_forward_kernel(const T* a, int n, kernels::TaylorCoefficients c, T* out, T* root_scale) {
  extern __shared__ unsigned char shared_bytes[];
  T* z = reinterpret_cast<T*>(shared_bytes);
  const size_t offset = size_t(blockIdx.x) * n * n;
  DeviceBlock<T, TILE> block;
  const T root = math::mtp_forward(block, a + offset, c.a, out + offset, z, z + n * n, z + 2 * n * n, n);
  if (threadIdx.x == 0) root_scale[blockIdx.x] = root;
}

template <typename T, int TILE>
__global__ void mpa_forward_kernel(const T* a, int n, kernels::PadeCoefficients c, bool inverse, T* out, T* root_scale) {
  extern __shared__ unsigned char shared_bytes[];
  T* z = reinterpret_cast<T*>(shared_bytes);
  const size_t offset = size_t(blockIdx.x) * n * n;
  DeviceBlock<T, TILE> block;
  const T root = math::mpa_forward(block, a + offset, c.p, c.q, inverse, out + offset, z, z + n * n, z + 2 * n * n,
                                   z + 3 * n * n, z + 4 * n * n, n);
  if (threadIdx.x == 0) root_scale[blockIdx.x] = root;
}

template <typename T, int TILE>
__global__ void lyapunov_sign_kernel(const T* y, const T* g, const T* root_scale, int n, int iterations, T* x) {
  extern __shared__ unsigned char shared_bytes[];
  T* b = reinterpret_cast<T*>(shared_bytes);
  T* c = b + n * n;
  const size_t offset = size_t(blockIdx.x) * n * n;
  const T root = root_scale[blockIdx.x];
  DeviceBlock<T, TILE> block;
  block.for_each(n * n, [&](int e) {
    b[e] = y[offset + e] / root;
    c[e] = g[offset + e] / root;
  });
  math::sign_iteration(block, b, c, c + n * n, c + 2 * n * n, c + 3 * n * n, n, iterations);
  block.for_each(n * n, [&](int e) { x[offset + e] = c[e]; });
}

// Five n×n matrices of T per block, beyond the 48 KiB a kernel gets without asking.
template <typename K>
size_t shared_for(K kernel, int64_t n, size_t item) {
  const size_t bytes = size_t(5 * n * n) * item;
  if (bytes > (size_t(48) << 10))
    DSVD_CUDA_CHECK("fused square root", cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  return bytes;
}

// Runs launch(dtype tag, tile tag) for a's float dtype and n's tile ⌈n/16⌉.
template <typename F>
void launch(const char* op, const Tensor& a, F&& f) {
  const int64_t n = a.size(1);
  DSVD_CHECK(kernels::fused_sqrt_fits(n, a.dtype()), op, " (CUDA): n = ", n, " in ", dtype_name(a.dtype()),
             " does not fit one block's shared memory");
  if (a.size(0) == 0 || n == 0) return;
  DSVD_DISPATCH_FLOATING(a.dtype(), op, [&] {
    auto with = [&](auto tile) { f(scalar_t(), tile); };
    switch ((n + kGrid - 1) / kGrid) {
      case 1: return with(std::integral_constant<int, 1>{});
      case 2: return with(std::integral_constant<int, 2>{});
      case 3: return with(std::integral_constant<int, 3>{});
      case 4: return with(std::integral_constant<int, 4>{});
      case 5: return with(std::integral_constant<int, 5>{});
      case 6: return with(std::integral_constant<int, kMaxTile>{});
      default: fail(op, ": n = ", n, " is above ", kGrid * kMaxTile);
    }
  });
  DSVD_CUDA_CHECK(op, cudaGetLastError());
}

}  // namespace

void mtp_forward(const Tensor& a, const kernels::TaylorCoefficients& c, const Tensor& out, const Tensor& root_scale) {
  launch("mtp_forward", a, [&](auto dtype, auto tile) {
    using T = decltype(dtype);
    auto kernel = mtp_forward_kernel<T, decltype(tile)::value>;
    const int64_t n = a.size(1);
    kernel<<<unsigned(a.size(0)), kBlock, shared_for(kernel, n, sizeof(T)), stream_of(a)>>>(
        static_cast<const T*>(a.data_ptr()), int(n), c, static_cast<T*>(out.data_ptr()), static_cast<T*>(root_scale.data_ptr()));
  });
}

void mpa_forward(const Tensor& a, const kernels::PadeCoefficients& c, bool inverse, const Tensor& out,
                 const Tensor& root_scale) {
  launch("mpa_forward", a, [&](auto dtype, auto tile) {
    using T = decltype(dtype);
    auto kernel = mpa_forward_kernel<T, decltype(tile)::value>;
    const int64_t n = a.size(1);
    kernel<<<unsigned(a.size(0)), kBlock, shared_for(kernel, n, sizeof(T)), stream_of(a)>>>(
        static_cast<const T*>(a.data_ptr()), int(n), c, inverse, static_cast<T*>(out.data_ptr()),
        static_cast<T*>(root_scale.data_ptr()));
  });
}

void lyapunov_sign(const Tensor& y, const Tensor& g, const Tensor& root_scale, int iterations, const Tensor& x) {
  launch("lyapunov_sign", y, [&](auto dtype, auto tile) {
    using T = decltype(dtype);
    auto kernel = lyapunov_sign_kernel<T, decltype(tile)::value>;
    const int64_t n = y.size(1);
    kernel<<<unsigned(y.size(0)), kBlock, shared_for(kernel, n, sizeof(T)), stream_of(y)>>>(
        static_cast<const T*>(y.data_ptr()), static_cast<const T*>(g.data_ptr()), static_cast<const T*>(root_scale.data_ptr()),
        int(n), iterations, static_cast<T*>(x.data_ptr()));
  });
}

DSVD_REGISTER_KERNEL(kernels::MtpForwardKernel, CUDA, mtp_forward);
DSVD_REGISTER_KERNEL(kernels::MpaForwardKernel, CUDA, mpa_forward);
DSVD_REGISTER_KERNEL(kernels::LyapunovSignKernel, CUDA, lyapunov_sign);

}  // namespace dsvd::cuda
