// matmul: 2-D and batched 3-D matrix products on BLAS.
//
// Shapes: (m,k)@(k,n) -> (m,n); (B,m,k)@(B,k,n) -> (B,m,n); a 2-D operand, or a batch of 1, is
// broadcast over the other's batch. Backward, with g = dL/dC of C = A·B:
//   dA = g · Bᵀ,   dB = Aᵀ · g      (summed over the batch for a broadcast operand)
// The transposes are views that BLAS reads with its transpose flag: no copies.
#include "ops/autocast.h"
#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/float32_compute.h"
#include "ops/kernels/linalg.h"

namespace dsvd {

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = autocast::input("matmul", a_in);
  const Tensor b = autocast::input("matmul", b_in);

  DSVD_CHECK(a.defined() && b.defined(), "matmul: an operand is an undefined tensor");
  DSVD_CHECK((a.dim() == 2 || a.dim() == 3) && (b.dim() == 2 || b.dim() == 3), "matmul: expects 2-D or 3-D "
             "tensors, got shapes ", shape_str(a.sizes()), " and ", shape_str(b.sizes()));
  DSVD_CHECK(a.dtype() == b.dtype(), "matmul: operands have different dtypes (", dtype_name(a.dtype()), " and ",
             dtype_name(b.dtype()), "); convert one with .to()");
  DSVD_CHECK(is_floating(a.dtype()), "matmul: expects float32 or float64 operands, got ", dtype_name(a.dtype()));
  DSVD_CHECK(a.size(-1) == b.size(-2), "matmul: shapes ", shape_str(a.sizes()), " and ", shape_str(b.sizes()),
             " cannot be multiplied (", a.size(-1), " columns vs ", b.size(-2), " rows)");
  const bool batched = a.dim() == 3 || b.dim() == 3;
  const int64_t ba = a.dim() == 3 ? a.size(0) : 1, bb = b.dim() == 3 ? b.size(0) : 1;
  DSVD_CHECK(ba == bb || ba == 1 || bb == 1, "matmul: batch sizes ", ba, " and ", bb, " do not broadcast (shapes ",
             shape_str(a.sizes()), " and ", shape_str(b.sizes()), ")");
  const int64_t batch = std::max(ba, bb), m = a.size(-2), n = b.size(-1);

  // Untracked (batch, rows, cols) views, batch stride 0 where broadcast.
  auto as3d = [batch](const Tensor& t) {
    if (t.dim() == 3 && t.size(0) == batch) return t;
    int64_t rows = t.size(-2), cols = t.size(-1);
    return make_view(t, {batch, rows, cols}, {0, t.stride(-2), t.stride(-1)}, t.offset());
  };
  DSVD_CHECK(a.device() == b.device(), "matmul: operands are on different devices (", a.device().str(), " and ",
             b.device().str(), ")");
  Tensor out = empty({batch, m, n}, a.dtype(), a.device());
  kernels::call<kernels::BatchedGemmKernel>(a.device(), as3d(a), as3d(b), out);
  if (!batched) out = make_view(out, {m, n}, {n, 1}, 0);

  Shape sa = a.sizes(), sb = b.sizes();
  return record_op("matmul", {out}, {a, b}, {{"self", a}, {"other", b}},
                   [sa, sb](const std::vector<Tensor>& g, FunctionNode& node) {
                     const Tensor& x = node.saved_tensor(0);
                     const Tensor& y = node.saved_tensor(1);
                     Tensor ga, gb;
                     if (node.needs_input_grad(0)) ga = sum_to(matmul(g[0], y.transpose(-1, -2)), sa);
                     if (node.needs_input_grad(1)) {
                       // b = Wᵀ, a transposed view of a contiguous W (linear's weight): compute
                       // (gᵀ·x)ᵀ, so that W's gradient comes out contiguous instead of as a
                       // transposed view that the optimizer would have to gather (same GEMM).
                       const bool b_is_transposed = y.dim() == 2 && y.stride(0) == 1 && y.stride(1) == y.size(0) && x.dim() == 2;
                       gb = b_is_transposed ? matmul(g[0].t(), x).t() : sum_to(matmul(x.transpose(-1, -2), g[0]), sb);
                     }
                     return std::vector<Tensor>{ga, gb};
                   })[0];
}

}  // namespace dsvd
