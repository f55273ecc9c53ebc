// The strided loop every elementwise CPU kernel runs on.
//
// for_each_row<K>(sizes, strides, row) visits every element of a K-operand iteration space
// (operand 0 is usually the output) in rows of the innermost dimension: row(offsets, inner_strides,
// n) gets each operand's element offset for the row start, the operands' strides along the row,
// and the row length. The dimensions are first ordered and merged by kernels::coalesce_dims
// (ops/kernels/iteration.h), so a dense output in either memory format is a single row. Above kParallelGrain elements the element range is split
// evenly over the OpenMP threads (rows may be cut in two); every element is written by exactly
// one thread, so results do not depend on the thread count.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include <omp.h>

#include "ops/kernels/iteration.h"
#include "tensor/parallel.h"
#include "tensor/shape.h"

namespace dsvd::cpu {


template <size_t K, typename RowFn>
void for_each_row(const Shape& sizes, const std::array<const Shape*, K>& strides, RowFn&& row) {
  int64_t numel = 1;
  for (int64_t s : sizes) numel *= s;
  if (numel == 0) return;
  const kernels::IterationDims<K> g = kernels::coalesce_dims<K>(sizes, strides);
  const int64_t nd = int64_t(g.sizes.size());
  const int64_t inner = g.sizes[size_t(nd - 1)];
  std::array<int64_t, K> inner_strides;
  for (size_t k = 0; k < K; ++k) inner_strides[k] = g.strides[k][size_t(nd - 1)];

  auto run = [&](int64_t begin, int64_t end) {
    // Multi-index of `begin`, and the operands' offsets there.
    std::vector<int64_t> idx(static_cast<size_t>(nd), 0);
    int64_t rem = begin;
    for (int64_t d = nd - 1; d >= 0; --d) {
      idx[size_t(d)] = rem % g.sizes[size_t(d)];
      rem /= g.sizes[size_t(d)];
    }
    std::array<int64_t, K> off{};
    for (size_t k = 0; k < K; ++k)
      for (int64_t d = 0; d < nd; ++d) off[k] += idx[size_t(d)] * g.strides[k][size_t(d)];
    int64_t pos = begin;
    while (pos < end) {
      int64_t n = std::min(inner - idx[size_t(nd - 1)], end - pos);
      row(off, inner_strides, n);
      pos += n;
      // Advance to the next row start.
      for (size_t k = 0; k < K; ++k) off[k] += n * inner_strides[k];
      idx[size_t(nd - 1)] += n;
      for (int64_t d = nd - 1; d > 0 && idx[size_t(d)] == g.sizes[size_t(d)]; --d) {
        idx[size_t(d)] = 0;
        for (size_t k = 0; k < K; ++k) off[k] -= g.sizes[size_t(d)] * g.strides[k][size_t(d)];
        idx[size_t(d - 1)]++;
        for (size_t k = 0; k < K; ++k) off[k] += g.strides[k][size_t(d - 1)];
      }
    }
  };

  if (numel <= kParallelGrain || omp_get_max_threads() == 1 || omp_in_parallel()) {
    run(0, numel);
    return;
  }
#pragma omp parallel
  {
    int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t begin = numel * t / threads, end = numel * (t + 1) / threads;
    if (begin < end) run(begin, end);
  }
}

}  // namespace dsvd::cpu
