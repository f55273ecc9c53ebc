#include "ops/matfn/lyapunov.h"

#include <cmath>

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
