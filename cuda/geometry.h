// Strided iteration geometry for the element-wise CUDA kernels: the output's shape and each
// operand's strides (in elements, 0 where broadcast), ordered and merged by kernels::coalesce_dims
// (ops/kernels/iteration.h, shared with the CPU loops). Plain data, passed to kernels by value.
#pragma once
#include <array>
#include <cstdint>

#include "ops/kernels/iteration.h"
#include "tensor/tensor.h"

namespace dsvd::cuda {

constexpr int kMaxDims = 10;

template <int K>
struct Geometry {
  int nd = 0;
  int64_t numel = 0;
  bool contiguous = false;  // every operand dense in one memory order: offsets equal the linear index
  int64_t sizes[kMaxDims] = {};
  int64_t strides[K][kMaxDims] = {};
};

// Operand 0 is the output; the others are viewed with out's shape (callers broadcast first).
template <int K>
Geometry<K> make_geometry(const Tensor* const (&ops)[K], const char* op) {
  Geometry<K> g;
  const Shape& sizes = ops[0]->sizes();
  g.numel = 1;
  for (int64_t s : sizes) g.numel *= s;
  std::array<const Shape*, K> strides;
  for (int k = 0; k < K; ++k) strides[size_t(k)] = &ops[k]->strides();
  const kernels::IterationDims<size_t(K)> dims = kernels::coalesce_dims<size_t(K)>(sizes, strides);
  const int nd = int(dims.sizes.size());
  DSVD_CHECK(nd <= kMaxDims, op, ": a CUDA element-wise kernel takes at most ", kMaxDims,
             " non-mergeable dimensions, got ", nd, " (make the operands contiguous first)");
  g.nd = nd;
  g.contiguous = nd == 1;
  for (int k = 0; k < K; ++k) g.contiguous &= dims.strides[size_t(k)][0] == 1;
  for (int d = 0; d < nd; ++d) {
    g.sizes[d] = dims.sizes[size_t(d)];
    for (int k = 0; k < K; ++k) g.strides[k][d] = dims.strides[size_t(k)][size_t(d)];
  }
  return g;
}

}  // namespace dsvd::cuda
