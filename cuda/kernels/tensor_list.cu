// The ops on lists of gradients on the GPU (ops/kernels/nn.h: SumOfSquaresManyKernel,
// ScaleManyKernel). Up to kTensorsPerLaunch tensors per launch (tensor_table.cuh): ResNet-50's 161
// gradients take three launches per op instead of four per gradient for the norm and two for the
// scaling.
#include <algorithm>
#include <cstdint>

#include "cuda/context.h"
#include "cuda/internal.h"
#include "cuda/kernels/block_reduce.cuh"
#include "cuda/kernels/tensor_table.cuh"
#include "ops/kernel_table.h"
#include "ops/kernels/nn.h"
#include "tensor/dtype.h"

namespace dsvd::cuda {
namespace {

constexpr int kTensorsPerLaunch = 64;
// Blocks per tensor for the squared norm: a fixed number, so the partial sums, and the order in
// which they are added, depend on the shapes alone (the same sum on every run).
constexpr int kNormBlocks = 32;

template <typename T>
struct TensorTable {
  T* data[kTensorsPerLaunch];
  int64_t n[kTensorsPerLaunch];
};

// partials[y · kNormBlocks + x] = Σ t² over block x's grid-stride share of tensor y.
template <typename T>
__global__ void sum_of_squares_kernel(TensorTable<T> table, double* partials) {
  const int y = int(blockIdx.y);
  const T* p = table.data[y];
  const int64_t n = table.n[y];
  double s = 0;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += int64_t(gridDim.x) * blockDim.x) {
    const double v = double(p[k]);
    s += v * v;
  }
  s = block_sum<double>(s);
  if (threadIdx.x == 0) partials[y * kNormBlocks + blockIdx.x] = s;
}

// One block: out = Σ partials[0, count), each thread's strided share then the block's tree.
__global__ void sum_partials_kernel(const double* partials, int64_t count, double* out) {
  double s = 0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) s += partials[i];
  s = block_sum<double>(s);
  if (threadIdx.x == 0) out[0] = s;
}

template <typename T>
__global__ void scale_kernel(TensorTable<T> table, const double* factor, double* found_non_finite) {
  const int y = int(blockIdx.y);
  T* p = table.data[y];
  const int64_t n = table.n[y];
  const T f = T(*factor);
  bool non_finite = false;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += int64_t(gridDim.x) * blockDim.x) {
    const T v = p[k];
    non_finite |= !isfinite(v);
    p[k] = v * f;
  }
  if (non_finite && found_non_finite) *found_non_finite = 1.0;  // every writer writes the same value
}

// launch(table, count, longest) for each run of up to kTensorsPerLaunch tensors of dtype T, in the
// list's order.
template <typename T, typename Launch>
void for_each_table(const std::vector<Tensor>& tensors, Launch launch) {
  TensorTable<T> table;
  in_tables<kTensorsPerLaunch>(
      tensors,
      [&](int i, const Tensor& t) -> int64_t {
        if (t.dtype() != dtype_of<T>::value) return -1;
        DSVD_CHECK(t.device().is_cuda() && t.is_contiguous(), "tensor list op (CUDA): tensors must be contiguous on "
                   "a GPU, got one on ", t.device().str());
        table.data[i] = static_cast<T*>(t.data_ptr());
        table.n[i] = t.numel();
        return t.numel();
      },
      [&](int count, int64_t longest) { launch(table, count, longest); });
}

void sum_of_squares_many(const std::vector<Tensor>& tensors, const Tensor& out) {
  const Device device = out.device();
  cudaStream_t stream = context(device.index).stream;
  if (tensors.empty()) {
    fill(out, 0.0);
    return;
  }
  // One row of kNormBlocks partial sums per tensor, float32 tensors first, then float64.
  Tensor partials = empty({int64_t(tensors.size()) * kNormBlocks}, DType::Float64, device);
  double* next = static_cast<double*>(partials.data_ptr());
  for (DType dtype : {DType::Float32, DType::Float64}) {
    DSVD_DISPATCH_FLOATING(dtype, "sum_of_squares_many", [&] {
      using T = scalar_t;
      for_each_table<T>(tensors, [&](const TensorTable<T>& table, int count, int64_t) {
        sum_of_squares_kernel<T><<<dim3(kNormBlocks, unsigned(count)), kThreads, 0, stream>>>(table, next);
        DSVD_CUDA_CHECK("sum_of_squares_many", cudaGetLastError());
        next += int64_t(count) * kNormBlocks;
      });
    });
  }
  sum_partials_kernel<<<1, kThreads, 0, stream>>>(static_cast<const double*>(partials.data_ptr()),
                                                   partials.numel(), static_cast<double*>(out.data_ptr()));
  DSVD_CUDA_CHECK("sum_of_squares_many", cudaGetLastError());
}

void scale_many(const std::vector<Tensor>& tensors, const Tensor& factor, const Tensor& found_non_finite) {
  if (tensors.empty()) return;
  const Device device = factor.device();
  cudaStream_t stream = context(device.index).stream;
  const double* f = static_cast<const double*>(factor.data_ptr());
  double* found = found_non_finite.defined() ? static_cast<double*>(found_non_finite.data_ptr()) : nullptr;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    DSVD_DISPATCH_FLOATING(dtype, "scale_many_", [&] {
      using T = scalar_t;
      for_each_table<T>(tensors, [&](const TensorTable<T>& table, int count, int64_t longest) {
        const dim3 grid(std::max(1u, blocks_for(longest)), unsigned(count));
        scale_kernel<T><<<grid, kThreads, 0, stream>>>(table, f, found);
        DSVD_CUDA_CHECK("scale_many_", cudaGetLastError());
      });
    });
  }
}

}  // namespace

DSVD_REGISTER_KERNEL(kernels::SumOfSquaresManyKernel, CUDA, sum_of_squares_many);
DSVD_REGISTER_KERNEL(kernels::ScaleManyKernel, CUDA, scale_many);

}  // namespace dsvd::cuda
