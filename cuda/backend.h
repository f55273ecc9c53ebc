// The CUDA backend as the ops see it: device memory, copies, and one entry point per kernel
// family. Ops call these when their operands live on a CUDA device (see ops/*.cpp); every
// function here works on raw, untracked tensors and writes into outputs the caller allocated.
// In a build without CUDA every entry point throws dsvd::Error saying so (backend_none.cpp).
//
// Streams: each device has one stream; every kernel and library call of dsvd is queued on it,
// so operations on one device are ordered without explicit synchronisation. Copies to the CPU
// synchronise that stream.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "tensor/storage.h"
#include "tensor/tensor.h"

namespace dsvd::cuda {

// --- memory: the caching allocator (cuda/allocator.cpp) ---
// A block of `nbytes` on `device`, reused from the cache when a freed block of the same size
// class exists; cudaMalloc only on a miss (and, if that fails, once more after emptying the cache).
std::shared_ptr<Storage> allocate(size_t nbytes, int device, const char* op);
struct MemoryStats {
  size_t allocated = 0, peak_allocated = 0;  // bytes in live tensors (rounded to size classes)
  size_t reserved = 0, peak_reserved = 0;    // bytes held from the driver, cached blocks included
  int64_t driver_mallocs = 0, cache_hits = 0;
};
MemoryStats memory_stats(int device = 0);
void reset_peak_memory_stats(int device = 0);
void empty_cache(int device = 0);  // returns cached, unused blocks to the driver
void synchronize(int device = 0);

// --- checks made on the GPU, reported later (cuda/deferred_checks.cpp) ---
// A kernel that validates data (cross-entropy targets) writes the first bad position into
// `flag` (an int64 on the device; -1 = all good) instead of making the host wait. The verdict is
// read at the next synchronisation point: synchronize(), a copy to the CPU (item(), to_vector),
// or the next check of the same kind; then `message(position)` is thrown as dsvd::Error.
void defer_check(const Tensor& flag, std::function<std::string(int64_t)> message);
// Throws the first failed check whose result has arrived (all of them, waiting, when `wait`).
void raise_deferred_errors(int device, bool wait);

// --- copies (cuda/copy.cpp) ---
// dst <- src for any two layouts of the same shape, converting dtype; any device pair (a copy
// between the CPU and a GPU goes through a contiguous staging buffer when a side is strided).
void copy_into(const Tensor& dst, const Tensor& src);
void fill(const Tensor& out, double value);

// --- element-wise (cuda/kernels/elementwise.cu); operands broadcast to out's shape by strides ---
enum class Unary { Neg, Exp, Log, Sqrt, Pow, Abs, Sign, Clamp, Relu, Sigmoid, Tanh };
void unary(Unary op, const Tensor& out, const Tensor& in, double p0 = 0, double p1 = 0);
enum class Binary { Add, Sub, Mul, Div, Gt, Ge, Lt, Le, Eq };
void binary(Binary op, const Tensor& out, const Tensor& a, const Tensor& b);
// out = a (op) s, or s (op) a when scalar_first: a host number as the other operand, so that
// `x * 2.0` costs no copy to the device.
void binary_scalar(Binary op, const Tensor& out, const Tensor& a, double s, bool scalar_first);
// ReLU's backward in one pass: out = grad where result > 0, else 0 (same shapes).
void threshold_backward(const Tensor& out, const Tensor& result, const Tensor& grad);
void where(const Tensor& out, const Tensor& mask, const Tensor& a, const Tensor& b);
// Σ_k c_k x^k element-wise with explicit ascending powers, as the CPU (c_0 first).
void polynomial(const Tensor& out, const Tensor& x, const double* coefficients, int64_t count);

// out (B, L)[b, l] = in (B, S)[b, positions[l]], and its adjoint, out (B, S) zeroed then
// out[b, positions[l]] = in[b, l]; positions is an int64 tensor on the device (triu_vec).
void gather_columns(const Tensor& out, const Tensor& in, const Tensor& positions);
void scatter_columns(const Tensor& out, const Tensor& in, const Tensor& positions);

// --- reductions over contiguous (outer, inner) rows (cuda/kernels/reduce.cu) ---
// out[r] = scale · Σ_i rows[r, i]
void sum_rows(const Tensor& rows, int64_t outer, int64_t inner, const Tensor& out, double scale = 1.0);
void var_rows(const Tensor& rows, int64_t outer, int64_t inner, int64_t correction, const Tensor& out);
void max_rows(const Tensor& rows, int64_t outer, int64_t inner, const Tensor& values, const Tensor& indices);
void scatter_rows(const Tensor& grad, const Tensor& indices, int64_t outer, int64_t inner, const Tensor& out);
void log_softmax_rows(const Tensor& x, const Tensor& y, int64_t rows, int64_t cols);
// Mean cross-entropy of log-probabilities (n, c) with label smoothing; loss is a 0-d tensor on
// the device. Throws when a target is outside [0, c).
void cross_entropy_forward(const Tensor& logp, const Tensor& targets, double smoothing, const Tensor& loss);
void cross_entropy_backward(const Tensor& logp, const Tensor& targets, double smoothing, const Tensor& grad_loss,
                            const Tensor& grad);

// --- dense linear algebra (cuda/blas.cpp) ---
// out (B, m, n) <- a (B, m, k) · b (B, k, n); a and b may be transposed views or batch-broadcast
// (batch stride 0). cuBLAS strided-batched GEMM; TF32 only when set_tf32_matmul(true).
void batched_gemm(const Tensor& a, const Tensor& b, const Tensor& out);
// out (B, n, m) <- A⁻¹ b for contiguous a (B, n, n), b (B, n, m): cuBLAS batched LU. Throws naming
// the first singular sample (reads the factorisation's status: synchronises the stream).
void batched_solve(const Tensor& a, const Tensor& b, const Tensor& out);
void set_tf32_matmul(bool on);
bool tf32_matmul();
void set_tf32_conv(bool on);
bool tf32_conv();

// --- symmetric eigendecomposition (cuda/eig.cpp): cuSOLVER ---
// a (B, n, n) symmetric; eigenvalues (B, n) ascending, eigenvectors (B, n, n) as columns.
void symeig(const Tensor& a, const Tensor& eigenvalues, const Tensor& eigenvectors);

// --- matrix-function helpers (cuda/kernels/matfn.cu) ---
// Eigenpairs from ascending (B, n) values and column eigenvectors, reordered by |λ| descending
// (stable) into values_out = |λ| and vectors_out, as the CPU's symeig_descending.
void sort_eigenpairs_by_magnitude(const Tensor& w, const Tensor& vectors, const Tensor& values_out,
                                  const Tensor& vectors_out);
// One pass of the reference's ±inf repair (ops/matfn/repair.cpp): over a contiguous tensor,
// counts the entries equal to +inf (positive) or -inf, notes whether any NaN is present and the
// largest (smallest) of the others; replace_infinity then writes `value` over those infinities.
struct InfinityScan {
  int64_t count = 0;
  bool nan = false, have = false;
  double extreme = 0;
};
InfinityScan scan_infinity(const Tensor& t, bool positive);
void replace_infinity(const Tensor& t, bool positive, double value);
int64_t replace_nan_with_zero(const Tensor& t);  // returns how many were replaced

// --- dropout (cuda/kernels/dropout.cu) ---
// out = in · m with m_i = (u_i >= p ? 1/(1-p) : 0) in in's dtype, u_i element i of rand(shape,
// dtype) for draw `draw` of a generator seeded `seed`: the CPU's mask, recomputed on the device
// (forward and backward alike, so nothing is stored). in and out contiguous.
void dropout_mask_multiply(const Tensor& out, const Tensor& in, uint64_t seed, uint64_t draw, double p);

// --- SGD update, in place (cuda/kernels/elementwise.cu) ---
void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& buffer, double lr, double momentum,
                double dampening, double weight_decay, bool nesterov, bool first);

}  // namespace dsvd::cuda
