// CPU reductions over the last dimension of a contiguous (outer, inner) buffer.
//
// Every reduction is deterministic whatever the thread count: a row is cut into fixed blocks of
// kReduceBlock elements, each block is summed in a fixed order, and block sums are added in
// order. Float32 data is accumulated in float64.
#pragma once
#include "tensor/tensor.h"

namespace dsvd::cpu {

constexpr int64_t kReduceBlock = 1 << 14;

// out[o] = sum_i rows[o, i]; out has `outer` elements, dtype float (for float input) or int64.
void sum_rows(const Tensor& rows, int64_t outer, int64_t inner, const Tensor& out);
// out[o] = sum_i (rows[o,i] - mean_o)^2 / (inner - correction); float dtypes.
void var_rows(const Tensor& rows, int64_t outer, int64_t inner, int64_t correction, const Tensor& out);
// values[o] = max_i rows[o,i], indices[o] = first argmax (NaN wins, as in PyTorch).
void max_rows(const Tensor& rows, int64_t outer, int64_t inner, const Tensor& values, const Tensor& indices);
// Scatters g[o] into out[o, indices[o]] of a zeroed (outer, inner) buffer (the max backward).
void scatter_rows(const Tensor& g, const Tensor& indices, int64_t outer, int64_t inner, const Tensor& out);

}  // namespace dsvd::cpu
