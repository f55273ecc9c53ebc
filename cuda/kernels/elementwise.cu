// Element-wise CUDA kernels: copy/convert, fill, unary and binary math, comparisons, where,
// polynomial and the SGD update, on the formulas every device shares (ops/math/elementwise.h). One grid-stride loop over the output's elements; a
// strided operand's element offset comes from its geometry (cuda/geometry.h), a contiguous
// operation skips the index arithmetic.
#include <cstdint>
#include <type_traits>

#include "cuda/context.h"
#include "cuda/geometry.h"
#include "cuda/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/elementwise.h"
#include "ops/kernels/nn.h"
#include "ops/math/elementwise.h"
#include "tensor/dtype.h"

namespace dsvd::cuda {
namespace {

using math::BinaryOp;
using math::UnaryOp;

template <int K>
__device__ __forceinline__ void offsets_of(const Geometry<K>& g, int64_t i, int64_t (&off)[K]) {
  if (g.contiguous) {
#pragma unroll
    for (int k = 0; k < K; ++k) off[k] = i;
    return;
  }
#pragma unroll
  for (int k = 0; k < K; ++k) off[k] = 0;
  for (int d = g.nd - 1; d >= 0; --d) {
    int64_t idx = i % g.sizes[d];
    i /= g.sizes[d];
#pragma unroll
    for (int k = 0; k < K; ++k) off[k] += idx * g.strides[k][d];
  }
}

#define GRID_STRIDE(i, n) for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

template <typename D, typename S>
__global__ void copy_kernel(Geometry<2> g, D* out, const S* in) {
  GRID_STRIDE(i, g.numel) {
    int64_t off[2];
    offsets_of(g, i, off);
    out[off[0]] = value_cast<D>(in[off[1]]);
  }
}

// out[b, r, c] = in[b·ibs + r + c·ics]: a batch of transposes (the input's rows are its unit
// stride), through 32x32 shared-memory tiles so that both the reads and the writes coalesce.
template <typename D, typename S>
__global__ void transpose_kernel(int64_t rows, int64_t cols, D* out, int64_t obs, const S* in, int64_t ibs, int64_t ics) {
  __shared__ S tile[32][33];
  const int64_t b = blockIdx.z;
  const int64_t r0 = int64_t(blockIdx.y) * 32, c0 = int64_t(blockIdx.x) * 32;
  for (int k = threadIdx.y; k < 32; k += blockDim.y) {
    const int64_t r = r0 + threadIdx.x, c = c0 + k;
    if (r < rows && c < cols) tile[k][threadIdx.x] = in[b * ibs + r + c * ics];
  }
  __syncthreads();
  for (int k = threadIdx.y; k < 32; k += blockDim.y) {
    const int64_t r = r0 + k, c = c0 + threadIdx.x;
    if (r < rows && c < cols) out[b * obs + r * cols + c] = value_cast<D>(tile[threadIdx.x][k]);
  }
}

template <typename T>
__global__ void fill_kernel(Geometry<1> g, T* out, T value) {
  GRID_STRIDE(i, g.numel) {
    int64_t off[1];
    offsets_of(g, i, off);
    out[off[0]] = value;
  }
}

// The 16-bit floats compute in float (compute_type_t) and round each result once, as a kernel
// that widens its operands would: these kernels take bfloat16 and float16 tensors natively.
template <typename T, UnaryOp OP>
__global__ void unary_kernel(Geometry<2> g, T* out, const T* in, double p0, double p1) {
  using C = compute_type_t<T>;
  GRID_STRIDE(i, g.numel) {
    int64_t off[2];
    offsets_of(g, i, off);
    out[off[0]] = value_cast<T>(math::unary<OP, C>(value_cast<C>(in[off[1]]), p0, p1));
  }
}

// O: T, or uint8 for a comparison (then computed in C and not rounded).
template <typename T, typename O, BinaryOp OP>
__global__ void binary_kernel(Geometry<3> g, O* out, const T* a, const T* b) {
  using C = compute_type_t<T>;
  using OC = std::conditional_t<std::is_same_v<O, T>, C, O>;
  GRID_STRIDE(i, g.numel) {
    int64_t off[3];
    offsets_of(g, i, off);
    out[off[0]] = value_cast<O>(math::binary<OP, OC>(value_cast<C>(a[off[1]]), value_cast<C>(b[off[2]])));
  }
}

// float32, every operand dense and 16-byte aligned, numel a multiple of 4: four elements per
// thread with 128-bit loads and stores (the bandwidth-bound ops of a training step: ReLU, the
// residual add, their backward passes).
template <BinaryOp OP>
__global__ void binary_vec4(int64_t n4, float4* out, const float4* a, const float4* b) {
  GRID_STRIDE(i, n4) {
    const float4 x = a[i], y = b[i];
    out[i] = make_float4(math::binary<OP, float>(x.x, y.x), math::binary<OP, float>(x.y, y.y),
                         math::binary<OP, float>(x.z, y.z), math::binary<OP, float>(x.w, y.w));
  }
}

template <UnaryOp OP>
__global__ void unary_vec4(int64_t n4, float4* out, const float4* in, double p0, double p1) {
  GRID_STRIDE(i, n4) {
    const float4 x = in[i];
    out[i] = make_float4(math::unary<OP, float>(x.x, p0, p1), math::unary<OP, float>(x.y, p0, p1),
                         math::unary<OP, float>(x.z, p0, p1), math::unary<OP, float>(x.w, p0, p1));
  }
}

__global__ void threshold_backward_vec4(int64_t n4, float4* out, const float4* result, const float4* grad) {
  GRID_STRIDE(i, n4) {
    const float4 r = result[i], g = grad[i];
    out[i] = make_float4(math::relu_backward(r.x, g.x), math::relu_backward(r.y, g.y), math::relu_backward(r.z, g.z),
                         math::relu_backward(r.w, g.w));
  }
}

template <int K>
bool vectorizable(const Geometry<K>& g, DType dtype, std::initializer_list<const void*> ptrs) {
  if (!g.contiguous || dtype != DType::Float32 || g.numel % 4 != 0) return false;
  for (const void* p : ptrs)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return true;
}

// The number `s` in the compute type (float for the 16-bit floats, as after widening).
template <typename T, typename O, BinaryOp OP>
__global__ void binary_scalar_kernel(Geometry<2> g, O* out, const T* a, compute_type_t<T> s, bool scalar_first) {
  using C = compute_type_t<T>;
  using OC = std::conditional_t<std::is_same_v<O, T>, C, O>;
  GRID_STRIDE(i, g.numel) {
    int64_t off[2];
    offsets_of(g, i, off);
    const C x = value_cast<C>(a[off[1]]);
    out[off[0]] = value_cast<O>(scalar_first ? math::binary<OP, OC>(s, x) : math::binary<OP, OC>(x, s));
  }
}

template <typename T>
__global__ void where_kernel(Geometry<4> g, T* out, const uint8_t* mask, const T* a, const T* b) {
  GRID_STRIDE(i, g.numel) {
    int64_t off[4];
    offsets_of(g, i, off);
    out[off[0]] = mask[off[1]] ? a[off[2]] : b[off[3]];
  }
}

template <typename T>
__global__ void threshold_backward_kernel(Geometry<3> g, T* out, const T* result, const T* grad) {
  using C = compute_type_t<T>;
  GRID_STRIDE(i, g.numel) {
    int64_t off[3];
    offsets_of(g, i, off);
    out[off[0]] = value_cast<T>(math::relu_backward(value_cast<C>(result[off[1]]), value_cast<C>(grad[off[2]])));
  }
}

struct Coefficients {
  double c[128];
  int count;
};

template <typename T>
__global__ void polynomial_kernel(Geometry<2> g, T* out, const T* x, Coefficients co) {
  GRID_STRIDE(i, g.numel) {
    int64_t off[2];
    offsets_of(g, i, off);
    out[off[0]] = math::polynomial(x[off[1]], co.c, co.count);
  }
}

template <typename T>
__global__ void gather_kernel(int64_t batch, int64_t len, int64_t src_len, const int64_t* pos, const T* in, T* out) {
  GRID_STRIDE(e, batch * len) {
    const int64_t b = e / len, l = e % len;
    out[e] = in[b * src_len + pos[l]];
  }
}

template <typename T>
__global__ void scatter_kernel(int64_t batch, int64_t len, int64_t dst_len, const int64_t* pos, const T* in, T* out) {
  GRID_STRIDE(e, batch * len) {
    const int64_t b = e / len, l = e % len;
    out[b * dst_len + pos[l]] = in[e];
  }
}

void check_on_device(const char* op, const Tensor& out, std::initializer_list<const Tensor*> ins) {
  DSVD_CHECK(out.device().is_cuda(), op, ": output is on ", out.device().str(), ", expected a CUDA device");
  for (const Tensor* t : ins)
    DSVD_CHECK(t->device() == out.device(), op, ": operand on ", t->device().str(), ", output on ", out.device().str());
}

template <typename F>
void launch_checked(const char* op, F&& launch) {
  launch();
  DSVD_CUDA_CHECK(op, cudaGetLastError());
}

// A batch of 2-D transposes into a dense output: (batch,) rows, cols with the input's unit stride
// along rows. Fills the arguments and says yes when the geometry is one.
bool as_transpose(const Geometry<2>& g, int64_t& batch, int64_t& rows, int64_t& cols, int64_t& obs, int64_t& ibs,
                  int64_t& ics) {
  if (g.nd != 2 && g.nd != 3) return false;
  const int r = g.nd - 2, c = g.nd - 1;
  if (g.strides[0][c] != 1 || g.strides[0][r] != g.sizes[c] || g.strides[1][r] != 1 || g.sizes[r] < 8 || g.sizes[c] < 8)
    return false;
  batch = g.nd == 3 ? g.sizes[0] : 1;
  if (batch > 65535) return false;
  rows = g.sizes[r];
  cols = g.sizes[c];
  if ((rows + 31) / 32 > 65535) return false;
  obs = g.nd == 3 ? g.strides[0][0] : 0;
  ibs = g.nd == 3 ? g.strides[1][0] : 0;
  ics = g.strides[1][c];
  return true;
}

template <typename S>
void copy_from(const char* op, Geometry<2> g, const Tensor& dst, const S* src, cudaStream_t s) {
  int64_t batch, rows, cols, obs, ibs, ics;
  const bool transpose = as_transpose(g, batch, rows, cols, obs, ibs, ics);
  DSVD_DISPATCH_STORAGE(dst.dtype(), op, [&] {
    if (transpose) {
      dim3 grid(unsigned((cols + 31) / 32), unsigned((rows + 31) / 32), unsigned(batch));
      transpose_kernel<scalar_t, S><<<grid, dim3(32, 8), 0, s>>>(rows, cols, static_cast<scalar_t*>(dst.data_ptr()), obs, src, ibs, ics);
    } else {
      copy_kernel<scalar_t, S><<<blocks_for(g.numel), kThreads, 0, s>>>(g, static_cast<scalar_t*>(dst.data_ptr()), src);
    }
  });
}

}  // namespace

// Device-to-device part of copy_into (cuda/copy.cpp handles the host side).
void copy_on_device(const Tensor& dst, const Tensor& src) {
  check_on_device("copy", dst, {&src});
  if (dst.numel() == 0) return;
  const Tensor* ops[2] = {&dst, &src};
  Geometry<2> g = make_geometry<2>(ops, "copy");
  cudaStream_t s = stream_of(dst);
  launch_checked("copy", [&] {
    DSVD_DISPATCH_STORAGE(src.dtype(), "copy", [&] { copy_from<scalar_t>("copy", g, dst, static_cast<const scalar_t*>(src.data_ptr()), s); });
  });
}

void fill(const Tensor& out, double value) {
  check_on_device("fill", out, {});
  if (out.numel() == 0) return;
  const Tensor* ops[1] = {&out};
  Geometry<1> g = make_geometry<1>(ops, "fill");
  launch_checked("fill", [&] {
    DSVD_DISPATCH_STORAGE(out.dtype(), "fill", [&] {
      fill_kernel<scalar_t><<<blocks_for(g.numel), kThreads, 0, stream_of(out)>>>(g, static_cast<scalar_t*>(out.data_ptr()),
                                                                               value_cast<scalar_t>(value));
    });
  });
}

void unary(UnaryOp op, const Tensor& out, const Tensor& in, double p0, double p1) {
  check_on_device("unary", out, {&in});
  DSVD_CHECK(out.dtype() == in.dtype(), "cuda unary: dtypes differ");
  if (out.numel() == 0) return;
  const Tensor* ops[2] = {&out, &in};
  Geometry<2> g = make_geometry<2>(ops, "unary");
  cudaStream_t s = stream_of(out);
  launch_checked("unary", [&] {
    DSVD_DISPATCH_STORAGE(out.dtype(), "unary", [&] {
      using T = scalar_t;
      T* o = static_cast<T*>(out.data_ptr());
      const T* x = static_cast<const T*>(in.data_ptr());
      const bool vec = vectorizable(g, out.dtype(), {o, x});
      auto go = [&](auto tag) {
        if constexpr (std::is_same_v<T, float>) {
          if (vec) {
            unary_vec4<decltype(tag)::value><<<blocks_for(g.numel / 4), kThreads, 0, s>>>(
                g.numel / 4, reinterpret_cast<float4*>(o), reinterpret_cast<const float4*>(x), p0, p1);
            return;
          }
        }
        unary_kernel<T, decltype(tag)::value><<<blocks_for(g.numel), kThreads, 0, s>>>(g, o, x, p0, p1);
      };
      math::with_unary(op, go);
    });
  });
}

void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  check_on_device("binary", out, {&a, &b});
  DSVD_CHECK(a.dtype() == b.dtype(), "cuda binary: operand dtypes differ");
  if (out.numel() == 0) return;
  const bool cmp = math::is_comparison(op);
  DSVD_CHECK(cmp ? out.dtype() == DType::UInt8 : out.dtype() == a.dtype(), "cuda binary: output dtype");
  const Tensor* ops[3] = {&out, &a, &b};
  Geometry<3> g = make_geometry<3>(ops, "binary");
  cudaStream_t s = stream_of(out);
  launch_checked("binary", [&] {
    DSVD_DISPATCH_STORAGE(a.dtype(), "binary", [&] {
      using T = scalar_t;
      const T* x = static_cast<const T*>(a.data_ptr());
      const T* y = static_cast<const T*>(b.data_ptr());
      const bool vec = vectorizable(g, a.dtype(), {out.data_ptr(), x, y});
      auto go = [&](auto tag) {
        constexpr BinaryOp K = decltype(tag)::value;
        if constexpr (math::is_comparison(K)) {
          binary_kernel<T, uint8_t, K><<<blocks_for(g.numel), kThreads, 0, s>>>(g, static_cast<uint8_t*>(out.data_ptr()), x, y);
        } else {
          if constexpr (std::is_same_v<T, float>) {
            if (vec) {
              binary_vec4<K><<<blocks_for(g.numel / 4), kThreads, 0, s>>>(
                  g.numel / 4, static_cast<float4*>(out.data_ptr()), reinterpret_cast<const float4*>(x),
                  reinterpret_cast<const float4*>(y));
              return;
            }
          }
          binary_kernel<T, T, K><<<blocks_for(g.numel), kThreads, 0, s>>>(g, static_cast<T*>(out.data_ptr()), x, y);
        }
      };
      math::with_binary(op, go);
    });
  });
}

void binary_scalar(BinaryOp op, const Tensor& out, const Tensor& a, double scalar, bool scalar_first) {
  check_on_device("binary", out, {&a});
  if (out.numel() == 0) return;
  const bool cmp = math::is_comparison(op);
  DSVD_CHECK(cmp ? out.dtype() == DType::UInt8 : out.dtype() == a.dtype(), "cuda binary: output dtype");
  const Tensor* ops[2] = {&out, &a};
  Geometry<2> g = make_geometry<2>(ops, "binary");
  cudaStream_t s = stream_of(out);
  launch_checked("binary", [&] {
    DSVD_DISPATCH_STORAGE(a.dtype(), "binary", [&] {
      using T = scalar_t;
      const T* x = static_cast<const T*>(a.data_ptr());
      const compute_type_t<T> sv = compute_type_t<T>(scalar);
      auto go = [&](auto tag) {
        constexpr BinaryOp K = decltype(tag)::value;
        if constexpr (math::is_comparison(K))
          binary_scalar_kernel<T, uint8_t, K><<<blocks_for(g.numel), kThreads, 0, s>>>(g, static_cast<uint8_t*>(out.data_ptr()), x, sv, scalar_first);
        else
          binary_scalar_kernel<T, T, K><<<blocks_for(g.numel), kThreads, 0, s>>>(g, static_cast<T*>(out.data_ptr()), x, sv, scalar_first);
      };
      math::with_binary(op, go);
    });
  });
}

void where(const Tensor& out, const Tensor& mask, const Tensor& a, const Tensor& b) {
  check_on_device("where", out, {&mask, &a, &b});
  DSVD_CHECK(mask.dtype() == DType::UInt8 && a.dtype() == out.dtype() && b.dtype() == out.dtype(), "cuda where: dtypes");
  if (out.numel() == 0) return;
  const Tensor* ops[4] = {&out, &mask, &a, &b};
  Geometry<4> g = make_geometry<4>(ops, "where");
  launch_checked("where", [&] {
    DSVD_DISPATCH_STORAGE(out.dtype(), "where", [&] {
      where_kernel<scalar_t><<<blocks_for(g.numel), kThreads, 0, stream_of(out)>>>(
          g, static_cast<scalar_t*>(out.data_ptr()), static_cast<const uint8_t*>(mask.data_ptr()),
          static_cast<const scalar_t*>(a.data_ptr()), static_cast<const scalar_t*>(b.data_ptr()));
    });
  });
}

void threshold_backward(const Tensor& out, const Tensor& result, const Tensor& grad) {
  check_on_device("relu_backward", out, {&result, &grad});
  if (out.numel() == 0) return;
  const Tensor* ops[3] = {&out, &result, &grad};
  Geometry<3> g = make_geometry<3>(ops, "relu_backward");
  if (vectorizable(g, out.dtype(), {out.data_ptr(), result.data_ptr(), grad.data_ptr()})) {
    threshold_backward_vec4<<<blocks_for(g.numel / 4), kThreads, 0, stream_of(out)>>>(
        g.numel / 4, static_cast<float4*>(out.data_ptr()), static_cast<const float4*>(result.data_ptr()),
        static_cast<const float4*>(grad.data_ptr()));
    DSVD_CUDA_CHECK("relu_backward", cudaGetLastError());
    return;
  }
  launch_checked("relu_backward", [&] {
    DSVD_DISPATCH_STORAGE(out.dtype(), "relu_backward", [&] {
      threshold_backward_kernel<scalar_t><<<blocks_for(g.numel), kThreads, 0, stream_of(out)>>>(
          g, static_cast<scalar_t*>(out.data_ptr()), static_cast<const scalar_t*>(result.data_ptr()),
          static_cast<const scalar_t*>(grad.data_ptr()));
    });
  });
}

void polynomial(const Tensor& out, const Tensor& x, const double* coefficients, int64_t count) {
  check_on_device("polynomial", out, {&x});
  DSVD_CHECK(count >= 1 && count <= 128, "polynomial: the CUDA kernel takes 1 to 128 coefficients, got ", count);
  if (out.numel() == 0) return;
  Coefficients co{};
  for (int64_t k = 0; k < count; ++k) co.c[k] = coefficients[k];
  co.count = int(count);
  const Tensor* ops[2] = {&out, &x};
  Geometry<2> g = make_geometry<2>(ops, "polynomial");
  launch_checked("polynomial", [&] {
    DSVD_DISPATCH_FLOATING(out.dtype(), "polynomial", [&] {
      polynomial_kernel<scalar_t><<<blocks_for(g.numel), kThreads, 0, stream_of(out)>>>(
          g, static_cast<scalar_t*>(out.data_ptr()), static_cast<const scalar_t*>(x.data_ptr()), co);
    });
  });
}

void gather_columns(const Tensor& out, const Tensor& in, const Tensor& positions) {
  check_on_device("gather", out, {&in, &positions});
  const int64_t batch = out.size(0), len = out.size(1), src_len = in.size(1);
  if (batch * len == 0) return;
  launch_checked("gather", [&] {
    DSVD_DISPATCH_ALL(out.dtype(), "gather", [&] {
      gather_kernel<scalar_t><<<blocks_for(batch * len), kThreads, 0, stream_of(out)>>>(
          batch, len, src_len, static_cast<const int64_t*>(positions.data_ptr()),
          static_cast<const scalar_t*>(in.data_ptr()), static_cast<scalar_t*>(out.data_ptr()));
    });
  });
}

void scatter_columns(const Tensor& out, const Tensor& in, const Tensor& positions) {
  check_on_device("scatter", out, {&in, &positions});
  fill(out, 0.0);
  const int64_t batch = in.size(0), len = in.size(1), dst_len = out.size(1);
  if (batch * len == 0) return;
  launch_checked("scatter", [&] {
    DSVD_DISPATCH_ALL(out.dtype(), "scatter", [&] {
      scatter_kernel<scalar_t><<<blocks_for(batch * len), kThreads, 0, stream_of(out)>>>(
          batch, len, dst_len, static_cast<const int64_t*>(positions.data_ptr()),
          static_cast<const scalar_t*>(in.data_ptr()), static_cast<scalar_t*>(out.data_ptr()));
    });
  });
}

// Native bfloat16/float16: computed in float, each result rounded once (no widened copies).
DSVD_REGISTER_KERNEL_NATIVE_REDUCED_FLOAT(kernels::UnaryKernel, CUDA, unary);
DSVD_REGISTER_KERNEL_NATIVE_REDUCED_FLOAT(kernels::BinaryKernel, CUDA, binary);
DSVD_REGISTER_KERNEL_NATIVE_REDUCED_FLOAT(kernels::BinaryScalarKernel, CUDA, binary_scalar);
DSVD_REGISTER_KERNEL_NATIVE_REDUCED_FLOAT(kernels::ReluBackwardKernel, CUDA, threshold_backward);
DSVD_REGISTER_KERNEL_NATIVE_REDUCED_FLOAT(kernels::WhereKernel, CUDA, where);
DSVD_REGISTER_KERNEL(kernels::PolynomialKernel, CUDA, polynomial);
DSVD_REGISTER_KERNEL(kernels::GatherColumnsKernel, CUDA, gather_columns);
DSVD_REGISTER_KERNEL(kernels::ScatterColumnsKernel, CUDA, scatter_columns);

}  // namespace dsvd::cuda
