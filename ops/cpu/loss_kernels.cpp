// The CPU kernels of log_softmax and cross_entropy (ops/kernels/reduce.h): one row per sample,
// sums in float64.
#include <algorithm>
#include <cmath>

#include "ops/kernel_table.h"
#include "ops/kernels/reduce.h"
#include "tensor/parallel.h"

namespace dsvd::cpu {
namespace {

// y = x − max − log Σ exp(x − max), row by row.
void log_softmax_rows(const Tensor& x, const Tensor& y, int64_t rows, int64_t cols) {
  DSVD_DISPATCH_FLOATING(x.dtype(), "log_softmax", [&] {
    using T = scalar_t;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    parallel_for(0, rows, rows * cols > kParallelGrain, [&](int64_t r) {
      const T* in = px + r * cols;
      T* out = py + r * cols;
      T m = in[0];
      for (int64_t c = 1; c < cols; ++c) m = std::max(m, in[c]);
      double s = 0;
      for (int64_t c = 0; c < cols; ++c) s += std::exp(double(in[c] - m));
      const T log_sum = T(std::log(s));
      for (int64_t c = 0; c < cols; ++c) out[c] = in[c] - m - log_sum;
    });
  });
}

// L = −(1/n) Σ_i [(1 − ε)·logp[i, t_i] + (ε/c)·Σ_k logp[i, k]]
void cross_entropy_forward(const Tensor& logp, const Tensor& targets, double eps, const Tensor& loss) {
  const int64_t n = logp.size(0), c = logp.size(1);
  const int64_t* tp = targets.data<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    DSVD_CHECK(tp[i] >= 0 && tp[i] < c, "cross_entropy: target ", tp[i], " of sample ", i, " is outside [0, ", c, ")");
  DSVD_DISPATCH_FLOATING(logp.dtype(), "cross_entropy", [&] {
    const scalar_t* lp = logp.data<scalar_t>();
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      double row = 0;
      if (eps > 0)
        for (int64_t k = 0; k < c; ++k) row += double(lp[i * c + k]);
      total += -((1 - eps) * double(lp[i * c + tp[i]]) + eps / double(c) * row);
    }
    loss.data<scalar_t>()[0] = scalar_t(total / double(n));
  });
}

// ∂L/∂logits = (softmax − q)/n · g, q = (1 − ε)·onehot(t) + ε/c
void cross_entropy_backward(const Tensor& logp, const Tensor& targets, double eps, const Tensor& grad_loss,
                            const Tensor& grad) {
  const int64_t n = logp.size(0), c = logp.size(1);
  const int64_t* tg = targets.data<int64_t>();
  // The upstream gradient read where it lies, as any input of a CPU kernel (item() is for the host).
  const double g = DSVD_DISPATCH_FLOATING(grad_loss.dtype(), "cross_entropy_backward",
                                          [&] { return double(*grad_loss.data<scalar_t>()); });
  const double scale = g / double(n);
  DSVD_DISPATCH_FLOATING(logp.dtype(), "cross_entropy_backward", [&] {
    const scalar_t* p = logp.data<scalar_t>();
    scalar_t* o = grad.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < c; ++k) {
        const double q = eps / double(c) + (k == tg[i] ? 1 - eps : 0.0);
        o[i * c + k] = scalar_t((std::exp(double(p[i * c + k])) - q) * scale);
      }
  });
}

}  // namespace

DSVD_REGISTER_KERNEL(kernels::LogSoftmaxRowsKernel, CPU, log_softmax_rows);
DSVD_REGISTER_KERNEL(kernels::CrossEntropyForwardKernel, CPU, cross_entropy_forward);
DSVD_REGISTER_KERNEL(kernels::CrossEntropyBackwardKernel, CPU, cross_entropy_backward);

}  // namespace dsvd::cpu
