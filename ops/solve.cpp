// solve(A, B): X with A X = B for a batch of square A (B, n, n) and right-hand sides (B, n, m)
// (2-D operands are a batch of one). CPU: LAPACK gesv (LU with partial pivoting) per matrix, one
// matrix per thread; GPU: cuBLAS batched LU (getrf + getrs). A singular A is an error naming the
// sample.
//
// Backward, with G = dL/dX:   dB = A⁻ᵀ G (one more solve),   dA = −dB Xᵀ.
#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"

namespace dsvd {
namespace {

// X = A⁻¹B on the operands' device, untracked.
Tensor solve_raw(const Tensor& a, const Tensor& b) {
  Tensor out = empty({a.size(0), a.size(1), b.size(2)}, a.dtype(), a.device());
  kernels::dispatch<kernels::BatchedSolveKernel>(a.device())(a, b, out);
  return out;
}

}  // namespace

Tensor solve(const Tensor& a, const Tensor& b) {
  DSVD_CHECK(a.defined() && b.defined(), "solve: an operand is an undefined tensor");
  DSVD_CHECK(a.dim() == b.dim() && (a.dim() == 2 || a.dim() == 3), "solve: expects A (n, n) and B (n, m), or batches "
             "(B, n, n) and (B, n, m); got shapes ", shape_str(a.sizes()), " and ", shape_str(b.sizes()));
  DSVD_CHECK(a.dtype() == b.dtype() && is_floating(a.dtype()) && !is_reduced_float(a.dtype()), "solve: expects two float32 or two float64 operands, got ",
             dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  DSVD_CHECK(a.device() == b.device(), "solve: operands are on different devices (", a.device().str(), " and ",
             b.device().str(), ")");
  const bool batched = a.dim() == 3;
  Tensor a3 = batched ? a : a.unsqueeze(0), b3 = batched ? b : b.unsqueeze(0);
  DSVD_CHECK(a3.size(1) == a3.size(2), "solve: A must be square, got shape ", shape_str(a.sizes()));
  DSVD_CHECK(a3.size(0) == b3.size(0) && a3.size(1) == b3.size(1), "solve: shapes ", shape_str(a.sizes()), " and ",
             shape_str(b.sizes()), " do not match (A's rows must equal B's)");
  Tensor x;
  {
    NoGradGuard no_grad;
    x = solve_raw(a3, b3);
  }
  if (!batched) x = x.squeeze(0);
  return record_op("solve", {x}, {a, b}, {{"self", a}, {"result", x}}, [](const std::vector<Tensor>& g, FunctionNode& n) {
    const Tensor& a_saved = n.saved_tensor(0);
    const Tensor& x_saved = n.saved_tensor(1);
    Tensor gb = solve(a_saved.transpose(-1, -2), g[0]);
    Tensor ga = n.needs_input_grad(0) ? neg(matmul(gb, x_saved.transpose(-1, -2))) : Tensor();
    return std::vector<Tensor>{ga, gb};
  })[0];
}

}  // namespace dsvd
