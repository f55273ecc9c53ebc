// The iteration space of an element-wise kernel, written once for every device: the output's
// shape and each operand's strides (operand 0 is the output; the others already expanded to its
// shape), reduced to as few dimensions as the layouts allow. The CPU loops (ops/cpu/loops.h) and
// the CUDA element-wise kernels (cuda/geometry.h) both walk what this returns.
//
//   1. size-1 dimensions are dropped (they never move an offset);
//   2. the rest are ordered by the output's strides, largest first (a stable sort: a row-major
//      output keeps its order; a channels-last one is walked N, H, W, C, i.e. in memory order);
//   3. neighbours are merged wherever every operand is laid out contiguously across them.
// A dense output therefore becomes one run of consecutive addresses whatever its memory format,
// and operands laid out like it follow with unit stride.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <vector>

#include "tensor/shape.h"

namespace dsvd::kernels {

template <size_t K>
struct IterationDims {
  Shape sizes;                    // at least one dimension (a single 1 for a one-element space)
  std::array<Shape, K> strides;   // per operand, in elements
};

template <size_t K>
IterationDims<K> coalesce_dims(const Shape& sizes, const std::array<const Shape*, K>& strides) {
  std::vector<size_t> order;
  for (size_t d = 0; d < sizes.size(); ++d)
    if (sizes[d] != 1) order.push_back(d);
  const Shape& out_strides = *strides[0];
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return out_strides[a] > out_strides[b]; });
  IterationDims<K> g;
  for (size_t d : order) {
    const size_t last = g.sizes.size();
    bool mergeable = last > 0;  // d joins the previous dimension as its inner part
    for (size_t k = 0; k < K && mergeable; ++k) mergeable = g.strides[k][last - 1] == (*strides[k])[d] * sizes[d];
    if (mergeable) {
      g.sizes[last - 1] *= sizes[d];
      for (size_t k = 0; k < K; ++k) g.strides[k][last - 1] = (*strides[k])[d];
      continue;
    }
    g.sizes.push_back(sizes[d]);
    for (size_t k = 0; k < K; ++k) g.strides[k].push_back((*strides[k])[d]);
  }
  if (g.sizes.empty()) {
    g.sizes.push_back(1);
    for (size_t k = 0; k < K; ++k) g.strides[k].push_back(1);
  }
  return g;
}

}  // namespace dsvd::kernels
