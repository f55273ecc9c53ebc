// The CPU matrix product C = A·B on BLAS (OpenBLAS sgemm/dgemm), row-major.
//
// An operand whose view is row-major (strides (ld, 1)) is passed as is, a transposed view
// (strides (1, ld)) is passed with the transpose flag; only other layouts are copied first.
#pragma once
#include "tensor/tensor.h"

namespace dsvd::cpu {

// out (B, m, n) = a (B, m, k) @ b (B, k, n); a batch stride of 0 broadcasts one matrix over
// the batch. `out` must be contiguous; a and b may be any view.
void batched_gemm(const Tensor& a, const Tensor& b, const Tensor& out);

}  // namespace dsvd::cpu
