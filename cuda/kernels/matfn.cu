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

struct Partial {
  long long count;
  int nan, have;
  double extreme;
};

// a <- a and o together: counts added, NaN flags or-ed, the larger (smaller) extreme kept.
__device__ void combine(Partial& a, const Partial& o, bool positive) {
  a.count += o.count;
  a.nan |= o.nan;
  if (o.have && (!a.have || (positive ? o.extreme > a.extreme : o.extreme < a.extreme))) a.extreme = o.extreme;
  a.have |= o.have;
}

// Tree reduction of one block's partials into shared[0].
__device__ void reduce_block(Partial* shared, bool positive) {
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) combine(shared[threadIdx.x], shared[threadIdx.x + s], positive);
    __syncthreads();
  }
}

template <typename T>
__global__ void scan_kernel(const T* p, int64_t n, bool positive, Partial* partials) {
  __shared__ Partial shared[kThreads];
  Partial mine{0, 0, 0, 0.0};
  const T inf = positive ? T(INFINITY) : T(-INFINITY);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const T v = p[i];
    if (v == inf) {
      ++mine.count;
    } else if (v != v) {
      mine.nan = 1;
    } else if (!mine.have || (positive ? double(v) > mine.extreme : double(v) < mine.extreme)) {
      mine.extreme = double(v);
      mine.have = 1;
    }
  }
  shared[threadIdx.x] = mine;
  reduce_block(shared, positive);
  if (threadIdx.x == 0) partials[blockIdx.x] = shared[0];
}

// One block: the partials of scan_kernel -> what to do. apply = some ±inf to replace and a
// replacement exists (the largest/smallest other entry, or NaN when one is present); the count
// of replaced entries is added to *count only then, as the CPU kernel counts.
struct Resolution {
  int apply;
  double value;
};

__global__ void resolve_kernel(const Partial* partials, int blocks, bool positive, Resolution* out,
                               long long* count) {
  __shared__ Partial shared[kThreads];
  Partial mine{0, 0, 0, 0.0};
  for (int i = threadIdx.x; i < blocks; i += blockDim.x) combine(mine, partials[i], positive);
  shared[threadIdx.x] = mine;
  reduce_block(shared, positive);
  if (threadIdx.x == 0) {
    const Partial& r = shared[0];
    out->apply = r.count > 0 && (r.have || r.nan);
    out->value = r.nan ? double(NAN) : r.extreme;
    if (out->apply) *count += r.count;
  }
}

template <typename T>
__global__ void replace_kernel(T* p, int64_t n, T target, const Resolution* resolution) {
  if (!resolution->apply) return;
  const T value = T(resolution->value);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    if (p[i] == target) p[i] = value;
}

template <typename T>
__global__ void nan_to_zero_kernel(T* p, int64_t n, unsigned long long* count) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    if (p[i] != p[i]) {
      p[i] = T(0);
      atomicAdd(count, 1ull);
    }
}

cudaStream_t stream_of(const Tensor& t) { return context(t.device().index).stream; }
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

// The reference's rule (ops/matfn/repair.h): scan, resolve, replace, all queued on the stream.
void replace_infinity_kernel(const Tensor& t, bool positive, const Tensor& count) {
  const int64_t n = t.numel();
  if (n == 0) return;
  Tensor partials = empty({int64_t(kScanBlocks * sizeof(Partial))}, DType::UInt8, t.device());
  Tensor resolution = empty({int64_t(sizeof(Resolution))}, DType::UInt8, t.device());
  cudaStream_t s = stream_of(t);
  auto* partial_ptr = static_cast<Partial*>(partials.data_ptr());
  auto* resolution_ptr = static_cast<Resolution*>(resolution.data_ptr());
  DSVD_DISPATCH_FLOATING(t.dtype(), "repair", [&] {
    scan_kernel<scalar_t><<<kScanBlocks, kThreads, 0, s>>>(static_cast<const scalar_t*>(t.data_ptr()), n, positive,
                                                          partial_ptr);
    resolve_kernel<<<1, kThreads, 0, s>>>(partial_ptr, int(kScanBlocks), positive, resolution_ptr,
                                          static_cast<long long*>(count.data_ptr()));
    replace_kernel<scalar_t><<<blocks_for(n), kThreads, 0, s>>>(
        static_cast<scalar_t*>(t.data_ptr()), n, scalar_t(positive ? INFINITY : -INFINITY), resolution_ptr);
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

DSVD_REGISTER_KERNEL(kernels::ReplaceInfinityKernel, CUDA, replace_infinity_kernel);
DSVD_REGISTER_KERNEL(kernels::ReplaceNanWithZeroKernel, CUDA, replace_nan_with_zero);

}  // namespace dsvd::cuda
