// Every public op of dsvd, with autograd. Each op validates its inputs (throwing dsvd::Error that
// names the op, the argument and the shapes), runs its kernel, and, when grad mode is on and an
// input requires grad, records its backward rule.
//
// Where each op lives (its entry point and backward; its kernels through the kernel table,
// ops/kernel_table.h, with the family contracts in ops/kernels/ and the element-wise formulas in
// ops/math/elementwise.h; docs/architecture.md has the map):
//   add sub mul div, comparisons ......... ops/binary.cpp       kernels ops/kernels/elementwise.h
//   where, polynomial ..................... ops/select.cpp       kernels ops/kernels/elementwise.h
//   neg exp log sqrt pow abs clamp relu
//   sigmoid tanh sign ..................... ops/unary.cpp        kernels ops/kernels/elementwise.h
//   sum mean var max argmax ............... ops/reduce.cpp       kernels ops/kernels/reduce.h
//   matmul, solve ......................... ops/matmul.cpp, ops/solve.cpp   kernels ops/kernels/linalg.h
//   views (Tensor methods), cat, stack .... ops/shape.cpp        copies  ops/kernels/elementwise.h
//   diag diag_embed triu triu_vec ......... ops/triangular.cpp
//   contiguous clone to(dtype) sum_to,
//   copy_ ................................. ops/convert.cpp
// CPU kernels: ops/cpu/<family>_kernels.cpp; CUDA kernels: cuda/. Tests: tests/ops/test_<family>.cpp.
#pragma once
#include <limits>
#include <vector>

#include "autograd/grad_mode.h"
#include "tensor/tensor.h"

namespace dsvd {

// --- elementwise binary: numpy broadcasting; mixed dtypes promote (uint8 < int64 < f32 < f64) ---
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);  // float dtypes only
// With a number: the number takes the tensor's dtype (as PyTorch does for a Python scalar).
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor rsub(const Tensor& a, double b);  // b - a
Tensor rdiv(const Tensor& a, double b);  // b / a

// dst <- src in place, untracked (buffers and optimizer state): same shape, any devices, the
// dtype converted to dst's.
void copy_(const Tensor& dst, const Tensor& src);
// t += value in place, untracked and not audited (counters such as BatchNorm's
// num_batches_tracked), on t's device.
void add_(const Tensor& t, double value);

// where(mask, a, b): a where mask (uint8) is non-zero, else b; all three broadcast together.
// Gradient: g where mask for a, g elsewhere for b.
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b);
// Σ_m coefficients[m] · x^m, evaluated per element in ascending order with explicit powers
// (pw *= x; acc += c_m · pw), in x's dtype. The matrix functions' series (Taylor, Padé) need
// exactly this order. No gradient.
Tensor polynomial(const Tensor& x, const std::vector<double>& coefficients);

// Comparisons give uint8 masks (1 where true); they carry no gradient.
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, double b);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);

// --- elementwise unary (float dtypes; neg, abs, relu, sign, clamp also take int64) ---
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor abs(const Tensor& x);      // gradient sign(x); 0 at x == 0
Tensor sign(const Tensor& x);     // no gradient (zero almost everywhere)
Tensor clamp(const Tensor& x, double min = -std::numeric_limits<double>::infinity(),
             double max = std::numeric_limits<double>::infinity());  // gradient 1 inside [min, max]
Tensor relu(const Tensor& x);     // gradient 1 where x > 0
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);

// --- reductions. `dims` may be negative; empty `dims` means all dimensions ---
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Shape& dims, bool keepdim = false);
// Variance with Bessel's correction by default (correction = 1, as torch.var); 0 gives the
// population variance.
Tensor var(const Tensor& x, int64_t correction = 1);
Tensor var(const Tensor& x, const Shape& dims, int64_t correction = 1, bool keepdim = false);
struct MaxResult {
  Tensor values;   // differentiable
  Tensor indices;  // int64, first occurrence of the maximum (NaN counts as the maximum)
};
MaxResult max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);  // over all elements
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);

// --- linear algebra ---
// (m,k)@(k,n), (B,m,k)@(B,k,n), and one side 2-D or with batch 1 broadcast over the other's batch.
// Runs on BLAS sgemm/dgemm with transposed views passed as flags (no copies).
Tensor matmul(const Tensor& a, const Tensor& b);
// X with A X = B: A (n, n) and B (n, m), or batches (B, n, n) and (B, n, m); LU with partial
// pivoting (LAPACK gesv, cuBLAS batched getrf/getrs). A singular A is an error naming the sample.
Tensor solve(const Tensor& a, const Tensor& b);

// --- joining and matrix-shaped ops ---
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
// 1-D v -> the matrix with v on diagonal `offset`; 2-D A -> the vector of A's diagonal `offset`.
Tensor diag(const Tensor& x, int64_t offset = 0);
// (..., n) -> (..., n, n) with the last dim on the diagonal.
Tensor diag_embed(const Tensor& x);
// Upper triangle (j - i >= k) of the last two dims, zeros elsewhere.
Tensor triu(const Tensor& x, int64_t k = 0);
// Upper-triangle vectorisation for covariance pooling: (..., n, n) -> (..., n(n+1)/2), row-major
// over i <= j: (0,0), (0,1), ..., (0,n-1), (1,1), ..., (n-1,n-1).
Tensor triu_vec(const Tensor& x);
// Its adjoint: (..., n(n+1)/2) -> (..., n, n), values placed at i <= j, zeros below.
Tensor triu_unvec(const Tensor& v, int64_t n);

// Sums `x` over broadcast dimensions down to `shape` (the adjoint of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace dsvd
