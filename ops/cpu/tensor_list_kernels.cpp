// The CPU kernels of the ops on lists of gradients (ops/kernels/nn.h: SumOfSquaresManyKernel,
// ScaleManyKernel). One tensor after another, each split over the threads.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "ops/cpu/lane_sum.h"
#include "ops/cpu/multiversion.h"
#include "ops/kernel_table.h"
#include "ops/kernels/nn.h"
#include "tensor/parallel.h"

namespace dsvd::cpu {
namespace {

// A tensor's sum is cut into chunks of this many elements, each summed in lanes (lane_sum.h), the
// chunks' sums then added in order: the order depends on the size alone, not on the threads.
constexpr int64_t kChunk = 1 << 14;
int64_t chunk_count(int64_t n) { return (n + kChunk - 1) / kChunk; }

// body(chunk index, first element, length) for each chunk of n elements, over the threads when
// n is worth it.
template <typename Body>
void for_each_chunk(int64_t n, Body body) {
  parallel_for(0, chunk_count(n), n > kParallelGrain, [&](int64_t c) {
    const int64_t begin = c * kChunk;
    body(c, begin, std::min(kChunk, n - begin));
  });
}

template <typename T>
DSVD_CPU_MULTIVERSION double sum_of_squares_chunk(const T* p, int64_t n) {
  Lanes lanes;
  add_terms(lanes, n, [p](int64_t i) {
    const double v = double(p[i]);
    return v * v;
  });
  return lanes.total();
}

void sum_of_squares_many(const std::vector<Tensor>& tensors, const Tensor& out) {
  double total = 0;
  std::vector<double> chunks;
  for (const Tensor& t : tensors) {
    DSVD_DISPATCH_FLOATING(t.dtype(), "sum_of_squares_many", [&] {
      const scalar_t* p = t.data<scalar_t>();
      chunks.assign(size_t(chunk_count(t.numel())), 0.0);
      for_each_chunk(t.numel(), [&](int64_t c, int64_t begin, int64_t length) {
        chunks[size_t(c)] = sum_of_squares_chunk(p + begin, length);
      });
      for (double s : chunks) total += s;
    });
  }
  out.data<double>()[0] = total;
}

template <typename T>
DSVD_CPU_MULTIVERSION bool scale_range(T* p, int64_t n, T factor) {
  bool non_finite = false;
  for (int64_t i = 0; i < n; ++i) {
    non_finite |= !std::isfinite(p[i]);
    p[i] = p[i] * factor;
  }
  return non_finite;
}

void scale_many(const std::vector<Tensor>& tensors, const Tensor& factor, const Tensor& found_non_finite) {
  const double f = factor.data<double>()[0];
  std::atomic<bool> non_finite{false};
  for (const Tensor& t : tensors) {
    DSVD_DISPATCH_FLOATING(t.dtype(), "scale_many_", [&] {
      scalar_t* p = t.data<scalar_t>();
      const scalar_t rounded = scalar_t(f);
      for_each_chunk(t.numel(), [&](int64_t, int64_t begin, int64_t length) {
        if (scale_range(p + begin, length, rounded)) non_finite.store(true);
      });
    });
  }
  if (found_non_finite.defined() && non_finite.load()) found_non_finite.data<double>()[0] = 1.0;
}

}  // namespace

DSVD_REGISTER_KERNEL(kernels::SumOfSquaresManyKernel, CPU, sum_of_squares_many);
DSVD_REGISTER_KERNEL(kernels::ScaleManyKernel, CPU, scale_many);

}  // namespace dsvd::cpu
