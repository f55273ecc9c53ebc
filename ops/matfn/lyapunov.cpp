#include "ops/matfn/lyapunov.h"

#include <cmath>

#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"
#include "ops/matfn/fast_sqrt.h"
#include "ops/ops.h"

namespace dsvd {
namespace {

// max over the batch of ‖B − I‖_F.
double distance_to_identity(const Tensor& b) {
  Tensor d = sub(b, eye(b.size(1), b.dtype(), b.device()));
  return std::sqrt(max(sum(mul(d, d), {1, 2})).item());
}

}  // namespace

LyapunovResult lyapunov_sign_iteration(const Tensor& y, const Tensor& g, const Tensor& root_scale, int iterations,
                                       double tolerance, bool measure) {
  DSVD_CHECK(iterations >= 1, "Lyapunov sign iteration: iterations must be >= 1, got ", iterations);
  if (tolerance <= 0 && !measure && fused_fast_sqrt(y)) {  // every iteration in one kernel
    LyapunovResult r;
    r.x = empty(y.sizes(), y.dtype(), y.device());
    kernels::dispatch<kernels::LyapunovSignKernel>(y.device())(detail::contiguous_raw(y), detail::contiguous_raw(g),
                                                               detail::contiguous_raw(root_scale), iterations, r.x);
    r.iterations = iterations;
    return r;
  }
  const int64_t n = y.size(1);
  Tensor i3 = mul(eye(n, y.dtype(), y.device()), 3.0);
  Tensor b = div(y, root_scale), c = div(g, root_scale);
  LyapunovResult r;
  for (int k = 0; k < iterations; ++k) {
    Tensor b2 = matmul(b, b);
    Tensor t = sub(i3, b2);  // 3I − B²
    Tensor c_next = mul(add(sub(matmul(c, t), matmul(b2, c)), matmul(matmul(b, c), b)), 0.5);
    b = mul(matmul(b, t), 0.5);
    c = c_next;
    r.iterations = k + 1;
    if (tolerance > 0 && distance_to_identity(b) < tolerance) break;
  }
  if (measure || tolerance > 0) r.residual = distance_to_identity(b);
  r.x = mul(c, 0.5);
  return r;
}

}  // namespace dsvd
