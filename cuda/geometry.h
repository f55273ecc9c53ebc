// Strided iteration geometry for the element-wise CUDA kernels: the output's shape and each
// operand's strides (in elements, 0 where broadcast), with dimensions merged where every operand
// is laid out contiguously across them. Plain data, passed to kernels by value.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace dsvd::cuda {

constexpr int kMaxDims = 10;

template <int K>
struct Geometry {
  int nd = 0;
  int64_t numel = 0;
  bool contiguous = false;  // every operand dense and row-major: offsets equal the linear index
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
  int64_t sz[64];
  int64_t st[K][64];
  int nd = 0;
  DSVD_CHECK(sizes.size() <= 64, op, ": too many dimensions (", sizes.size(), ")");
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1) continue;
    sz[nd] = sizes[d];
    for (int k = 0; k < K; ++k) st[k][nd] = ops[k]->strides()[d];
    ++nd;
  }
  // merge d-1 into d where every operand is contiguous across the pair
  int out = 0;
  for (int d = 0; d < nd; ++d) {
    if (out > 0) {
      bool mergeable = true;
      for (int k = 0; k < K; ++k) mergeable &= st[k][out - 1] == st[k][d] * sz[d];
      if (mergeable) {
        sz[out - 1] *= sz[d];
        for (int k = 0; k < K; ++k) st[k][out - 1] = st[k][d];
        continue;
      }
    }
    sz[out] = sz[d];
    for (int k = 0; k < K; ++k) st[k][out] = st[k][d];
    ++out;
  }
  nd = out;
  if (nd == 0) {
    sz[0] = 1;
    for (int k = 0; k < K; ++k) st[k][0] = 1;
    nd = 1;
  }
  DSVD_CHECK(nd <= kMaxDims, op, ": a CUDA element-wise kernel takes at most ", kMaxDims,
             " non-mergeable dimensions, got ", nd, " (make the operands contiguous first)");
  g.nd = nd;
  g.contiguous = nd == 1;
  for (int k = 0; k < K; ++k) g.contiguous &= st[k][0] == 1;
  for (int d = 0; d < nd; ++d) {
    g.sizes[d] = sz[d];
    for (int k = 0; k < K; ++k) g.strides[k][d] = st[k][d];
  }
  return g;
}

}  // namespace dsvd::cuda
