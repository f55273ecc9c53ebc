// The fast square roots fused, one thread block per matrix (ops/kernels/linalg.h MtpForwardKernel,
// MpaForwardKernel and LyapunovSignKernel): the sample's matrices live in shared memory, each
// product is one pass of the block over the n² outputs, and the whole forward (norm, the Horner
// polynomial(s), MPA's LU solve with partial pivoting) or the whole sign iteration is one launch.
#include <cmath>
#include <type_traits>

#include "cuda/context.h"
#include "cuda/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"

namespace dsvd::cuda {
namespace {

constexpr int kGrid = 16;                // threads per side of the block's square of threads
constexpr int kBlock = kGrid * kGrid;     // 256
constexpr int kMaxTile = 6;               // outputs per thread and side: n <= 96

// out = alpha·(a·b) + beta·c over row-major n×n matrices in shared memory; c may be out itself
// (each entry is read, then written, by the same thread), a and b may not. Thread (ty, tx) of the
// 16×16 square computes rows ty + 16p and columns tx + 16q (p, q < tile = ⌈n/16⌉): each value it
// loads serves `tile` products, and a warp reads consecutive columns of b (no bank conflicts) and
// two rows of a (broadcasts). Ends synchronised.
template <typename T, int TILE>
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

// Σ_{k<=degree} c[k] Z^k by Horner's scheme (R = c_degree I; R = R·Z + c_k I), ping-ponging
// between r and t; returns the one holding the result.
template <typename T, int TILE>
__device__ T* horner(const T* z, const double* c, int degree, T* r, T* t, int n) {
  for (int e = threadIdx.x; e < n * n; e += blockDim.x) r[e] = e / n == e % n ? T(c[degree]) : T(0);
  __syncthreads();
  for (int k = degree - 1; k >= 0; --k) {
    product<T, TILE>(r, z, t, n, T(1), nullptr, T(0));
    for (int i = threadIdx.x; i < n; i += blockDim.x) t[i * n + i] += T(c[k]);
    __syncthreads();
    T* swap = r;
    r = t;
    t = swap;
  }
  return r;
}

// x <- lhs⁻¹·x in place (n right-hand sides, the columns of x), lhs overwritten by its LU factors:
// Gaussian elimination with partial pivoting, then back substitution. A zero pivot gives Inf/NaN,
// as a singular solve does.
template <typename T>
__device__ void solve_in_place(T* lhs, T* x, T* factors, int n) {
  __shared__ int pivot;
  for (int col = 0; col < n; ++col) {
    if (threadIdx.x < 32) {  // warp 0: the largest |lhs[r, col]|, r >= col (the first of equals)
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
    if (pivot != col)
      for (int j = threadIdx.x; j < n; j += blockDim.x) {
        T u = lhs[col * n + j];
        lhs[col * n + j] = lhs[pivot * n + j];
        lhs[pivot * n + j] = u;
        u = x[col * n + j];
        x[col * n + j] = x[pivot * n + j];
        x[pivot * n + j] = u;
      }
    __syncthreads();
    for (int r = col + 1 + threadIdx.x; r < n; r += blockDim.x) factors[r] = lhs[r * n + col] / lhs[col * n + col];
    __syncthreads();
    const int rows = n - col - 1;
    for (int e = threadIdx.x; e < rows * n; e += blockDim.x) {
      const int r = col + 1 + e / n, j = e % n;
      const T f = factors[r];
      x[r * n + j] -= f * x[col * n + j];
      if (j > col) lhs[r * n + j] -= f * lhs[col * n + j];
    }
    __syncthreads();
  }
  for (int row = n - 1; row >= 0; --row) {
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
      T s = x[row * n + j];
      for (int k = row + 1; k < n; ++k) s -= lhs[row * n + k] * x[k * n + j];
      x[row * n + j] = s / lhs[row * n + row];
    }
    __syncthreads();
  }
}

// Σ v² over the block (every thread gets it).
template <typename T>
__device__ T block_sum_of_squares(const T* v, int count) {
  __shared__ double partial[kBlock];
  double s = 0;
  for (int e = threadIdx.x; e < count; e += blockDim.x) s += double(v[e]) * double(v[e]);
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  const T total = T(partial[0]);
  __syncthreads();
  return total;
}

// z <- I − A/s for the block's matrix a; returns s = ‖A‖_F.
template <typename T>
__device__ T normalised(const T* a, T* z, int n) {
  const T s = sqrt(block_sum_of_squares(a, n * n));
  for (int e = threadIdx.x; e < n * n; e += blockDim.x) z[e] = (e / n == e % n ? T(1) : T(0)) - a[e] / s;
  __syncthreads();
  return s;
}

template <typename T, int TILE>
__global__ void mtp_forward_kernel(const T* a_all, int n, kernels::TaylorCoefficients c, T* out_all, T* scale_all) {
  extern __shared__ unsigned char shared_bytes[];
  T* z = reinterpret_cast<T*>(shared_bytes);
  T* m1 = z + n * n;
  T* m2 = m1 + n * n;
  const T s = normalised(a_all + size_t(blockIdx.x) * n * n, z, n);
  const T* r = horner<T, TILE>(z, c.a, 10, m1, m2, n);
  const T root = sqrt(s);
  T* out = out_all + size_t(blockIdx.x) * n * n;
  for (int e = threadIdx.x; e < n * n; e += blockDim.x) out[e] = r[e] * root;
  if (threadIdx.x == 0) scale_all[blockIdx.x] = root;
}

template <typename T, int TILE>
__global__ void mpa_forward_kernel(const T* a_all, int n, kernels::PadeCoefficients c, bool inverse, T* out_all, T* scale_all) {
  extern __shared__ unsigned char shared_bytes[];
  T* z = reinterpret_cast<T*>(shared_bytes);
  T* m1 = z + n * n;
  T* m2 = m1 + n * n;
  T* m3 = m2 + n * n;
  T* factors = m3 + n * n;  // n entries of the fifth matrix's room
  const T s = normalised(a_all + size_t(blockIdx.x) * n * n, z, n);
  // P into one of m1/m2; Q into the other two buffers' free one and m3.
  T* p = horner<T, TILE>(z, c.p, 5, m1, m2, n);
  T* q = horner<T, TILE>(z, c.q, 5, m3, p == m1 ? m2 : m1, n);
  // sqrt: Q X = P; inverse: P X = Q (the solve overwrites its left side with its factors).
  T* lhs = inverse ? p : q;
  T* x = inverse ? q : p;
  solve_in_place<T>(lhs, x, factors, n);
  const T root = sqrt(s);
  T* out = out_all + size_t(blockIdx.x) * n * n;
  for (int e = threadIdx.x; e < n * n; e += blockDim.x) out[e] = inverse ? x[e] / root : x[e] * root;
  if (threadIdx.x == 0) scale_all[blockIdx.x] = root;
}

// B_{k+1} = ½(3B − B·B²), C_{k+1} = ½(3C − C·B² − B²·C + (B·C)·B): the iteration of lyapunov.h
// with C_k(3I − B_k²) written out, six products per step.
template <typename T, int TILE>
__global__ void lyapunov_sign_kernel(const T* y_all, const T* g_all, const T* scale_all, int n, int iterations,
                                     T* x_all) {
  extern __shared__ unsigned char shared_bytes[];
  T* b = reinterpret_cast<T*>(shared_bytes);
  T* c = b + n * n;
  T* b2 = c + n * n;
  T* bc = b2 + n * n;
  T* acc = bc + n * n;
  const size_t offset = size_t(blockIdx.x) * n * n;
  const T root = scale_all[blockIdx.x];
  for (int e = threadIdx.x; e < n * n; e += blockDim.x) {
    b[e] = y_all[offset + e] / root;
    c[e] = g_all[offset + e] / root;
  }
  __syncthreads();
  for (int k = 0; k < iterations; ++k) {
    product<T, TILE>(b, b, b2, n, T(1), nullptr, T(0));     // B²
    product<T, TILE>(b, c, bc, n, T(1), nullptr, T(0));     // B·C
    product<T, TILE>(c, b2, acc, n, T(-1), nullptr, T(0));  // −C·B²
    product<T, TILE>(b2, c, acc, n, T(-1), acc, T(1));      // − B²·C
    product<T, TILE>(bc, b, acc, n, T(1), acc, T(1));       // + (B·C)·B
    for (int e = threadIdx.x; e < n * n; e += blockDim.x) c[e] = T(0.5) * (T(3) * c[e] + acc[e]);
    __syncthreads();
    product<T, TILE>(b, b2, bc, n, T(1), nullptr, T(0));  // B·B² (B·C is no longer needed)
    for (int e = threadIdx.x; e < n * n; e += blockDim.x) b[e] = T(0.5) * (T(3) * b[e] - bc[e]);
    __syncthreads();
  }
  for (int e = threadIdx.x; e < n * n; e += blockDim.x) x_all[offset + e] = T(0.5) * c[e];
}

// Five n×n matrices of T per block, beyond the 48 KiB a kernel gets without asking.
template <typename K>
size_t shared_for(K kernel, int64_t n, size_t item) {
  const size_t bytes = size_t(5 * n * n) * item;
  if (bytes > (size_t(48) << 10))
    DSVD_CUDA_CHECK("fused square root", cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  return bytes;
}

// f(std::integral_constant<int, ⌈n/16⌉>): the kernel instantiated for n's tile.
template <typename F>
void with_tile(int64_t n, F&& f) {
  switch ((n + kGrid - 1) / kGrid) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    case 4: return f(std::integral_constant<int, 4>{});
    case 5: return f(std::integral_constant<int, 5>{});
    case 6: return f(std::integral_constant<int, 6>{});
    default: fail("fused square root: n = ", n, " is above ", kGrid * kMaxTile);
  }
}

}  // namespace

void mpa_forward(const Tensor& a, const kernels::PadeCoefficients& c, bool inverse, const Tensor& out,
                 const Tensor& root_scale) {
  const int64_t batch = a.size(0), n = a.size(1);
  DSVD_CHECK(kernels::fused_sqrt_fits(n, a.dtype()), "mpa_forward (CUDA): n = ", n, " in ", dtype_name(a.dtype()),
             " does not fit one block's shared memory");
  if (batch == 0 || n == 0) return;
  DSVD_DISPATCH_FLOATING(a.dtype(), "mpa_forward", [&] {
    with_tile(n, [&](auto tile) {
      auto kernel = mpa_forward_kernel<scalar_t, decltype(tile)::value>;
      const size_t bytes = shared_for(kernel, n, sizeof(scalar_t));
      kernel<<<unsigned(batch), kBlock, bytes, stream_of(a)>>>(static_cast<const scalar_t*>(a.data_ptr()), int(n), c,
                                                            inverse, static_cast<scalar_t*>(out.data_ptr()),
                                                            static_cast<scalar_t*>(root_scale.data_ptr()));
    });
  });
  DSVD_CUDA_CHECK("mpa_forward", cudaGetLastError());
}

void mtp_forward(const Tensor& a, const kernels::TaylorCoefficients& c, const Tensor& out, const Tensor& root_scale) {
  const int64_t batch = a.size(0), n = a.size(1);
  DSVD_CHECK(kernels::fused_sqrt_fits(n, a.dtype()), "mtp_forward (CUDA): n = ", n, " in ", dtype_name(a.dtype()),
             " does not fit one block's shared memory");
  if (batch == 0 || n == 0) return;
  DSVD_DISPATCH_FLOATING(a.dtype(), "mtp_forward", [&] {
    with_tile(n, [&](auto tile) {
      auto kernel = mtp_forward_kernel<scalar_t, decltype(tile)::value>;
      const size_t bytes = shared_for(kernel, n, sizeof(scalar_t));
      kernel<<<unsigned(batch), kBlock, bytes, stream_of(a)>>>(static_cast<const scalar_t*>(a.data_ptr()), int(n), c,
                                                            static_cast<scalar_t*>(out.data_ptr()),
                                                            static_cast<scalar_t*>(root_scale.data_ptr()));
    });
  });
  DSVD_CUDA_CHECK("mtp_forward", cudaGetLastError());
}

void lyapunov_sign(const Tensor& y, const Tensor& g, const Tensor& root_scale, int iterations, const Tensor& x) {
  const int64_t batch = y.size(0), n = y.size(1);
  DSVD_CHECK(kernels::fused_sqrt_fits(n, y.dtype()), "lyapunov_sign (CUDA): n = ", n, " in ", dtype_name(y.dtype()),
             " does not fit one block's shared memory");
  if (batch == 0 || n == 0) return;
  DSVD_DISPATCH_FLOATING(y.dtype(), "lyapunov_sign", [&] {
    with_tile(n, [&](auto tile) {
      auto kernel = lyapunov_sign_kernel<scalar_t, decltype(tile)::value>;
      const size_t bytes = shared_for(kernel, n, sizeof(scalar_t));
      kernel<<<unsigned(batch), kBlock, bytes, stream_of(y)>>>(
          static_cast<const scalar_t*>(y.data_ptr()), static_cast<const scalar_t*>(g.data_ptr()),
          static_cast<const scalar_t*>(root_scale.data_ptr()), int(n), iterations, static_cast<scalar_t*>(x.data_ptr()));
    });
  });
  DSVD_CUDA_CHECK("lyapunov_sign", cudaGetLastError());
}

DSVD_REGISTER_KERNEL(kernels::MtpForwardKernel, CUDA, mtp_forward);
DSVD_REGISTER_KERNEL(kernels::MpaForwardKernel, CUDA, mpa_forward);
DSVD_REGISTER_KERNEL(kernels::LyapunovSignKernel, CUDA, lyapunov_sign);

}  // namespace dsvd::cuda
