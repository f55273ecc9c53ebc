// Kernels of the matrix-function layer: the |λ|-descending reorder of eigenpairs and the
// reference's ±inf / NaN repairs (ops/kernels/linalg.h), and the finiteness check before an
// eigendecomposition. The repairs stay on the device from scan to replacement: the counts are
// added to device counters that the report reads only when asked (no host synchronisation).
#include <cmath>
#include <vector>

#include "cuda/context.h"
#include "cuda/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"
#include "tensor/dtype.h"

namespace dsvd::cuda {
namespace {

// One block per matrix: the rank of each eigenvalue in the order |λ| descending, ties by index
// (a stable sort), then the scatter of values and eigenvector columns to their ranks.
template <typename T>
__global__ void sort_by_magnitude(int64_t n, const T* w, const T* vectors, T* values_out, T* vectors_out) {
  const int64_t b = blockIdx.x;
  const T* wb = w + b * n;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const T ai = fabs(wb[i]);
    int64_t rank = 0;
    for (int64_t j = 0; j < n; ++j) {
      const T aj = fabs(wb[j]);
      rank += aj > ai || (aj == ai && j < i);
    }
    values_out[b * n + rank] = ai;
    for (int64_t row = 0; row < n; ++row) vectors_out[(b * n + row) * n + rank] = vectors[(b * n + row) * n + i];
  }
}

// first[0] <- the smallest sample index holding a NaN or Inf (left as it is when none).
template <typename T>
__global__ void nonfinite_kernel(const T* p, int64_t batch, int64_t per_sample, unsigned long long* first) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < batch * per_sample;
       i += int64_t(gridDim.x) * blockDim.x)
    if (!isfinite(p[i])) atomicMin(first, (unsigned long long)(i / per_sample));
}

__global__ void strided_pointers_kernel(void** table, char* base_a, size_t stride_a, char* base_b, size_t stride_b,
                                        int64_t count) {
  for (int64_t s = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; s < count; s += int64_t(gridDim.x) * blockDim.x) {
    table[s] = base_a + size_t(s) * stride_a;
    table[count + s] = base_b + size_t(s) * stride_b;
  }
}

// first[0] <- the smallest index of a matrix whose solver info is not 0 (left as it is when none).
__global__ void failed_info_kernel(const int* info, int64_t count, unsigned long long* first) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    if (info[i] != 0) atomicMin(first, (unsigned long long)i);
}

// A scan's partial result, oriented as the summary is (ops/kernels/linalg.h): the extreme is the
// largest other entry (positive) or minus the smallest, so that partials combine by max.
struct Partial {
  int nan, have;
  double extreme;
};

// a <- a and o together: NaN and presence flags or-ed, the larger oriented extreme kept.
__device__ void combine(Partial& a, const Partial& o) {
  a.nan |= o.nan;
  a.have |= o.have;
  a.extreme = fmax(a.extreme, o.extreme);
}

// Tree reduction of one block's partials into shared[0].
__device__ void reduce_block(Partial* shared) {
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) combine(shared[threadIdx.x], shared[threadIdx.x + s]);
    __syncthreads();
  }
}

template <typename T>
__global__ void scan_kernel(const T* p, int64_t n, bool positive, Partial* partials) {
  __shared__ Partial shared[kThreads];
  Partial mine{0, 0, double(-INFINITY)};
  const T inf = positive ? T(INFINITY) : T(-INFINITY);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const T v = p[i];
    if (v == inf) continue;
    if (v != v) {
      mine.nan = 1;
    } else {
      mine.have = 1;
      mine.extreme = fmax(mine.extreme, positive ? double(v) : -double(v));
    }
  }
  shared[threadIdx.x] = mine;
  reduce_block(shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = shared[0];
}

// One block: the partials of scan_kernel -> the summary [NaN present, other entry present,
// oriented extreme] (float64, on the device).
__global__ void summarise_kernel(const Partial* partials, int blocks, double* summary) {
  __shared__ Partial shared[kThreads];
  Partial mine{0, 0, double(-INFINITY)};
  for (int i = threadIdx.x; i < blocks; i += blockDim.x) combine(mine, partials[i]);
  shared[threadIdx.x] = mine;
  reduce_block(shared);
  if (threadIdx.x == 0) {
    summary[0] = shared[0].nan;
    summary[1] = shared[0].have;
    summary[2] = shared[0].extreme;
  }
}

// Every `target` (±inf) becomes NaN or the summary's extreme, as the CPU kernel decides; the
// number replaced is added to *count, one atomic per block.
template <typename T>
__global__ void replace_kernel(T* p, int64_t n, bool positive, const double* summary, unsigned long long* count) {
  __shared__ unsigned long long replaced;
  if (threadIdx.x == 0) replaced = 0;
  __syncthreads();
  const bool nan = summary[0] != 0, have = summary[1] != 0;
  if (nan || have) {
    const T target = positive ? T(INFINITY) : T(-INFINITY);
    const T value = nan ? T(NAN) : T(positive ? summary[2] : -summary[2]);
    unsigned long long mine = 0;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
      if (p[i] == target) {
        p[i] = value;
        ++mine;
      }
    if (mine) atomicAdd(&replaced, mine);
  }
  __syncthreads();
  if (threadIdx.x == 0 && replaced) atomicAdd(count, replaced);
}

template <typename T>
__global__ void nan_to_zero_kernel(T* p, int64_t n, unsigned long long* count) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    if (p[i] != p[i]) {
      p[i] = T(0);
      atomicAdd(count, 1ull);
    }
}

constexpr unsigned kScanBlocks = 256;

}  // namespace

void sort_eigenpairs_by_magnitude(const Tensor& w, const Tensor& vectors, const Tensor& values_out,
                                  const Tensor& vectors_out) {
  const int64_t batch = w.size(0), n = w.size(1);
  if (batch == 0 || n == 0) return;
  DSVD_DISPATCH_FLOATING(w.dtype(), "symeig", [&] {
    sort_by_magnitude<scalar_t><<<unsigned(batch), kThreads, 0, stream_of(w)>>>(
        n, static_cast<const scalar_t*>(w.data_ptr()), static_cast<const scalar_t*>(vectors.data_ptr()),
        static_cast<scalar_t*>(values_out.data_ptr()), static_cast<scalar_t*>(vectors_out.data_ptr()));
  });
  DSVD_CUDA_CHECK("symeig", cudaGetLastError());
}

void defer_finite_check(const Tensor& t, const char* op) {
  const int64_t batch = t.size(0), per_sample = batch == 0 ? 0 : t.numel() / batch;
  if (t.numel() == 0) return;
  // All bits set: -1 read as int64 ("all good" for defer_check), the largest value for atomicMin.
  Tensor first = full({1}, -1.0, DType::Int64, t.device());
  DSVD_DISPATCH_FLOATING(t.dtype(), op, [&] {
    nonfinite_kernel<scalar_t><<<blocks_for(t.numel()), kThreads, 0, stream_of(t)>>>(
        static_cast<const scalar_t*>(t.data_ptr()), batch, per_sample, static_cast<unsigned long long*>(first.data_ptr()));
  });
  DSVD_CUDA_CHECK(op, cudaGetLastError());
  const std::string name = op;
  defer_check(first, [name](int64_t sample) { return name + ": sample " + std::to_string(sample) + " holds NaN or Inf"; });
}

void strided_pointers(void** table, void* base_a, size_t stride_a, void* base_b, size_t stride_b, int64_t count,
                      int device) {
  if (count == 0) return;
  strided_pointers_kernel<<<blocks_for(count), kThreads, 0, context(device).stream>>>(
      table, static_cast<char*>(base_a), stride_a, static_cast<char*>(base_b), stride_b, count);
  DSVD_CUDA_CHECK("pointer table", cudaGetLastError());
}

void defer_info_check(const Tensor& info, int64_t count, std::function<std::string(int64_t, int)> message) {
  if (count == 0) return;
  Tensor first = full({1}, -1.0, DType::Int64, info.device());  // all bits set: none yet
  failed_info_kernel<<<blocks_for(count), kThreads, 0, stream_of(info)>>>(
      static_cast<const int*>(info.data_ptr()), count, static_cast<unsigned long long*>(first.data_ptr()));
  DSVD_CUDA_CHECK("info check", cudaGetLastError());
  defer_check(first, [info, message](int64_t matrix) {  // `info` stays alive until the verdict is read
    int value = 0;
    cudaMemcpy(&value, static_cast<const int*>(info.data_ptr()) + matrix, sizeof value, cudaMemcpyDeviceToHost);
    return message(matrix, value);
  });
}

// The reference's rule (ops/matfn/repair.h) in its two kernels, both queued on the stream: the
// scan (block partials, then the summary) and the replacement reading the summary on the device.
void infinity_scan_kernel(const Tensor& t, bool positive, const Tensor& summary) {
  const int64_t n = t.numel();
  Tensor partials = empty({int64_t(kScanBlocks * sizeof(Partial))}, DType::UInt8, t.device());
  cudaStream_t s = stream_of(t);
  auto* partial_ptr = static_cast<Partial*>(partials.data_ptr());
  DSVD_DISPATCH_FLOATING(t.dtype(), "repair", [&] {
    scan_kernel<scalar_t><<<kScanBlocks, kThreads, 0, s>>>(static_cast<const scalar_t*>(t.data_ptr()), n, positive,
                                                          partial_ptr);
  });
  summarise_kernel<<<1, kThreads, 0, s>>>(partial_ptr, int(kScanBlocks), static_cast<double*>(summary.data_ptr()));
  DSVD_CUDA_CHECK("repair", cudaGetLastError());
}

void replace_infinity_kernel(const Tensor& t, bool positive, const Tensor& summary, const Tensor& count) {
  const int64_t n = t.numel();
  if (n == 0) return;
  DSVD_DISPATCH_FLOATING(t.dtype(), "repair", [&] {
    replace_kernel<scalar_t><<<blocks_for(n), kThreads, 0, stream_of(t)>>>(
        static_cast<scalar_t*>(t.data_ptr()), n, positive, static_cast<const double*>(summary.data_ptr()),
        static_cast<unsigned long long*>(count.data_ptr()));
  });
  DSVD_CUDA_CHECK("repair", cudaGetLastError());
}

void replace_nan_with_zero(const Tensor& t, const Tensor& count) {
  const int64_t n = t.numel();
  if (n == 0) return;
  DSVD_DISPATCH_FLOATING(t.dtype(), "repair", [&] {
    nan_to_zero_kernel<scalar_t><<<blocks_for(n), kThreads, 0, stream_of(t)>>>(
        static_cast<scalar_t*>(t.data_ptr()), n, static_cast<unsigned long long*>(count.data_ptr()));
  });
  DSVD_CUDA_CHECK("repair", cudaGetLastError());
}

DSVD_REGISTER_KERNEL(kernels::InfinityScanKernel, CUDA, infinity_scan_kernel);
DSVD_REGISTER_KERNEL(kernels::ReplaceInfinityKernel, CUDA, replace_infinity_kernel);
DSVD_REGISTER_KERNEL(kernels::ReplaceNanWithZeroKernel, CUDA, replace_nan_with_zero);

}  // namespace dsvd::cuda
