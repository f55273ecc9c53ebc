// solve(A, B): X with A X = B for a batch of square A (B, n, n) and right-hand sides (B, n, m)
// (2-D operands are a batch of one). CPU: LAPACK gesv (LU with partial pivoting) per matrix, one
// matrix per thread; GPU: cuBLAS batched LU (getrf + getrs). A singular A is an error naming the
// sample.
//
// Backward, with G = dL/dX:   dB = A⁻ᵀ G (one more solve),   dA = −dB Xᵀ.
#include <lapacke.h>

#include "cuda/backend.h"
#include "ops/internal.h"
#include "tensor/parallel.h"

namespace dsvd {
namespace {

lapack_int gesv(int n, int m, float* a, lapack_int* pivots, float* b) {
  return LAPACKE_sgesv(LAPACK_ROW_MAJOR, n, m, a, n, pivots, b, m);
}
lapack_int gesv(int n, int m, double* a, lapack_int* pivots, double* b) {
  return LAPACKE_dgesv(LAPACK_ROW_MAJOR, n, m, a, n, pivots, b, m);
}

Tensor solve_raw(const Tensor& a, const Tensor& b) {
  const int64_t batch = a.size(0), n = a.size(1), m = b.size(2);
  Tensor out = empty({batch, n, m}, a.dtype(), a.device());
  if (detail::on_cuda(a)) {
    cuda::batched_solve(detail::contiguous_raw(a), detail::contiguous_raw(b), out);
    return out;
  }
  Tensor lu = a.clone();  // gesv overwrites A with its LU factors and B with X
  detail::copy_raw(out, b);
  std::vector<std::string> errors(static_cast<size_t>(batch));
  DSVD_DISPATCH_FLOATING(a.dtype(), "solve", [&] {
    scalar_t* pa = lu.data<scalar_t>();
    scalar_t* px = out.data<scalar_t>();
    parallel_for(0, batch, batch > 1, [&](int64_t s) {
      std::vector<lapack_int> pivots(static_cast<size_t>(n));
      const lapack_int info = gesv(int(n), int(m), pa + s * n * n, pivots.data(), px + s * n * m);
      if (info > 0) errors[size_t(s)] = "solve: the matrix of sample " + std::to_string(s) + " is singular (U(" +
                                        std::to_string(info) + ", " + std::to_string(info) + ") = 0)";
      else if (info < 0) errors[size_t(s)] = "solve: LAPACK gesv rejected argument " + std::to_string(-info);
    });
  });
  for (const auto& e : errors) DSVD_CHECK(e.empty(), e);
  return out;
}

}  // namespace

Tensor solve(const Tensor& a, const Tensor& b) {
  DSVD_CHECK(a.defined() && b.defined(), "solve: an operand is an undefined tensor");
  DSVD_CHECK(a.dim() == b.dim() && (a.dim() == 2 || a.dim() == 3), "solve: expects A (n, n) and B (n, m), or batches "
             "(B, n, n) and (B, n, m); got shapes ", shape_str(a.sizes()), " and ", shape_str(b.sizes()));
  DSVD_CHECK(a.dtype() == b.dtype() && is_floating(a.dtype()), "solve: expects two float32 or two float64 operands, got ",
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
