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
      const int64_t n = t.numel(), count = (n + kChunk - 1) / kChunk;
      chunks.assign(size_t(count), 0.0);
      parallel_for(0, count, n > kParallelGrain, [&](int64_t c) {
        const int64_t begin = c * kChunk;
        chunks[size_t(c)] = sum_of_squares_chunk(p + begin, std::min(kChunk, n - begin));
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
      const int64_t n = t.numel(), count = (n + kChunk - 1) / kChunk;
      parallel_for(0, count, n > kParallelGrain, [&](int64_t c) {
        const int64_t begin = c * kChunk;
        if (scale_range(p + begin, std::min(kChunk, n - begin), rounded)) non_finite.store(true);
      });
    });
  }
  if (found_non_finite.defined() && non_finite.load()) found_non_finite.data<double>()[0] = 1.0;
}

}  // namespace

DSVD_REGISTER_KERNEL(kernels::SumOfSquaresManyKernel, CPU, sum_of_squares_many);
DSVD_REGISTER_KERNEL(kernels::ScaleManyKernel, CPU, scale_many);

}  // namespace dsvd::cpu
