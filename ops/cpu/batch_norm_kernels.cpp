// The CPU kernels of batch norm (ops/kernels/nn.h), plain and fused with the residual add and the
// ReLU after it: one pass per channel for the statistics, one for y; sums per channel in float64,
// channels in parallel, so results do not depend on the thread count. The saved statistics are
// float64. The fused kernels are the plain ones with the ReLU (math::unary<Relu>, and
// math::relu_backward on the saved output) applied inside the same loops.
#include <cmath>
#include <vector>

#include "ops/cpu/lane_sum.h"
#include "ops/cpu/multiversion.h"
#include "ops/kernel_table.h"
#include "ops/math/elementwise.h"
#include "ops/kernels/nn.h"
#include "tensor/parallel.h"

namespace dsvd::cpu {
namespace {

struct Layout {
  int64_t batch, channels, plane;  // plane = H·W (1 for 2-D input)
  int64_t count() const { return batch * plane; }
  int64_t at(int64_t n, int64_t c) const { return (n * channels + c) * plane; }
};

// Channel c of y = γ·x̂ + β, or with `relu` max(0, γ·x̂ + β (+ residual when not null)).
template <typename T>
DSVD_CPU_MULTIVERSION void forward_channel(const Layout& l, int64_t c, const T* x, const T* gamma, const T* beta,
                                           bool training, const double* run_mean, const double* run_var, double eps,
                                           T* y, double* mean_out, double* invstd_out, double* var_out, bool relu,
                                           const T* residual) {
  double mu, var;
  if (training) {
    Lanes sum;
    for (int64_t n = 0; n < l.batch; ++n) {
      const T* p = x + l.at(n, c);
      add_terms(sum, l.plane, [p](int64_t i) { return double(p[i]); });
    }
    mu = sum.total() / double(l.count());
    Lanes squares;  // of the deviations: the two-pass variance, no cancellation
    for (int64_t n = 0; n < l.batch; ++n) {
      const T* p = x + l.at(n, c);
      add_terms(squares, l.plane, [p, mu](int64_t i) {
        const double d = double(p[i]) - mu;
        return d * d;
      });
    }
    var = squares.total() / double(l.count());
  } else {
    mu = run_mean[c];
    var = run_var[c];
  }
  const double invstd = 1.0 / std::sqrt(var + eps);
  const T scale = T(invstd * (gamma ? double(gamma[c]) : 1.0));
  const T shift = T((beta ? double(beta[c]) : 0.0) - mu * invstd * (gamma ? double(gamma[c]) : 1.0));
  for (int64_t n = 0; n < l.batch; ++n) {
    const T* p = x + l.at(n, c);
    T* q = y + l.at(n, c);
    if (!relu) {
      for (int64_t i = 0; i < l.plane; ++i) q[i] = p[i] * scale + shift;
    } else if (!residual) {
      for (int64_t i = 0; i < l.plane; ++i) q[i] = math::unary<math::UnaryOp::Relu>(T(p[i] * scale + shift), 0, 0);
    } else {
      const T* r = residual + l.at(n, c);
      for (int64_t i = 0; i < l.plane; ++i)
        q[i] = math::unary<math::UnaryOp::Relu>(T(T(p[i] * scale + shift) + r[i]), 0, 0);
    }
  }
  mean_out[c] = mu;
  invstd_out[c] = invstd;
  var_out[c] = var;
}

template <typename T>
void forward_kernel(const Layout& l, const T* x, const T* gamma, const T* beta, bool training, const double* run_mean,
                    const double* run_var, double eps, T* y, double* mean_out, double* invstd_out, double* var_out,
                    bool relu = false, const T* residual = nullptr) {
  parallel_for(0, l.channels, l.batch * l.channels * l.plane > kParallelGrain, [&](int64_t c) {
    forward_channel(l, c, x, gamma, beta, training, run_mean, run_var, eps, y, mean_out, invstd_out, var_out, relu,
                    residual);
  });
}

// ReLU's backward of one plane, relu_backward(y, dy), into `into` or (null) a per-thread buffer.
// In a loop of its own, which vectorises as a select: inside the float64 sums below the same
// test compiles to a branch that mispredicts on half the units (5x slower, measured).
template <typename T>
const T* relu_masked(const T* y, const T* dy, int64_t n, T* into) {
  static thread_local std::vector<T> buffer;
  if (!into) {
    if (buffer.size() < size_t(n)) buffer.resize(size_t(n));
    into = buffer.data();
  }
  for (int64_t i = 0; i < n; ++i) into[i] = math::relu_backward(y[i], dy[i]);
  return into;
}

// dx, dγ, dβ from dy; with `y` (the fused forward's output) dy is first masked by the ReLU
// (g = relu_backward(y, dy)), and g is also the residual's gradient when d_residual is not null.
// The sums' pass writes g where the second pass reads it: into d_residual, else into dx itself
// (which the second pass then overwrites in place), so the mask is computed once.
template <typename T>
DSVD_CPU_MULTIVERSION void backward_channel(const Layout& l, int64_t c, const T* x, const T* gamma, const T* dy,
                                            const double* mean, const double* invstd, bool training, T* dx, T* dgamma,
                                            T* dbeta, const T* y, T* d_residual) {
  const double mu = mean[c], s = invstd[c];
  Lanes grads, centred;  // Σ dy and Σ dy·(x − μ)
  for (int64_t n = 0; n < l.batch; ++n) {
    const T* p = x + l.at(n, c);
    const T* g = dy + l.at(n, c);
    if (y) {
      T* keep = d_residual ? d_residual + l.at(n, c) : (dx && training ? dx + l.at(n, c) : nullptr);
      g = relu_masked(y + l.at(n, c), g, l.plane, keep);
    }
    add_terms(grads, l.plane, [g](int64_t i) { return double(g[i]); });
    add_terms(centred, l.plane, [g, p, mu](int64_t i) { return double(g[i]) * (double(p[i]) - mu); });
  }
  const double sum_dy = grads.total(), sum_dy_xhat = centred.total() * s;
  if (dgamma) dgamma[c] = T(sum_dy_xhat);
  if (dbeta) dbeta[c] = T(sum_dy);
  if (!dx) return;
  const double gs = (gamma ? double(gamma[c]) : 1.0) * s;
  const double inv_n = 1.0 / double(l.count());
  const double a = sum_dy * inv_n, b = sum_dy_xhat * inv_n;
  for (int64_t n = 0; n < l.batch; ++n) {
    const T* p = x + l.at(n, c);
    const T* g = dy + l.at(n, c);
    const T* r = y ? y + l.at(n, c) : nullptr;
    T* out = dx + l.at(n, c);
    if (training && r) {
      // The masked dy, as the sums' pass left it (in the residual's gradient, or in dx: in place).
      const T* masked = d_residual ? d_residual + l.at(n, c) : out;
      for (int64_t i = 0; i < l.plane; ++i) out[i] = T(gs * (double(masked[i]) - a - (double(p[i]) - mu) * s * b));
    } else if (training) {
      for (int64_t i = 0; i < l.plane; ++i) out[i] = T(gs * (double(g[i]) - a - (double(p[i]) - mu) * s * b));
    } else {
      for (int64_t i = 0; i < l.plane; ++i) out[i] = T(gs * double(g[i]));
    }
  }
}

template <typename T>
void backward_kernel(const Layout& l, const T* x, const T* gamma, const T* dy, const double* mean, const double* invstd,
                     bool training, T* dx, T* dgamma, T* dbeta, const T* y = nullptr, T* d_residual = nullptr) {
  parallel_for(0, l.channels, l.batch * l.channels * l.plane > kParallelGrain, [&](int64_t c) {
    backward_channel(l, c, x, gamma, dy, mean, invstd, training, dx, dgamma, dbeta, y, d_residual);
  });
}

// Training forward, plain (relu false) or fused; updates the running statistics in place.
void training_forward(const Tensor& x, const Tensor& residual, bool relu, const Tensor& gamma, const Tensor& beta,
                      const Tensor& running_mean, const Tensor& running_var, double momentum, double eps,
                      const Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  const int64_t channels = x.size(1);
  const Layout l{x.size(0), channels, x.dim() == 4 ? x.size(2) * x.size(3) : 1};
  save_mean = empty({channels}, DType::Float64);
  save_invstd = empty({channels}, DType::Float64);
  Tensor variance = empty({channels}, DType::Float64);
  DSVD_DISPATCH_FLOATING(x.dtype(), "batch_norm", [&] {
    forward_kernel<scalar_t>(l, x.data<scalar_t>(), gamma.defined() ? gamma.data<scalar_t>() : nullptr,
                             beta.defined() ? beta.data<scalar_t>() : nullptr, true, nullptr, nullptr, eps,
                             y.data<scalar_t>(), save_mean.data<double>(), save_invstd.data<double>(),
                             variance.data<double>(), relu, residual.defined() ? residual.data<scalar_t>() : nullptr);
  });
  if (running_mean.defined() && running_var.defined()) {
    // The buffers are updated in place, as in PyTorch.
    const double unbias = double(l.count()) / double(l.count() - 1);
    DSVD_DISPATCH_FLOATING(running_mean.dtype(), "batch_norm", [&] {
      scalar_t* m = running_mean.data<scalar_t>();
      scalar_t* v = running_var.data<scalar_t>();
      for (int64_t c = 0; c < channels; ++c) {
        m[c] = scalar_t((1 - momentum) * double(m[c]) + momentum * save_mean.data<double>()[c]);
        v[c] = scalar_t((1 - momentum) * double(v[c]) + momentum * variance.data<double>()[c] * unbias);
      }
    });
  }
}

void batch_norm_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                         const Tensor& running_var, double momentum, double eps, const Tensor& y, Tensor& save_mean,
                         Tensor& save_invstd) {
  training_forward(x, Tensor(), false, gamma, beta, running_mean, running_var, momentum, eps, y, save_mean,
                   save_invstd);
}

void batch_norm_relu_training(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                              const Tensor& running_mean, const Tensor& running_var, double momentum, double eps,
                              const Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  training_forward(x, residual, true, gamma, beta, running_mean, running_var, momentum, eps, y, save_mean,
                   save_invstd);
}

// Training backward; `y` (the fused forward's output) defined for the fused op.
void training_backward(const Tensor& x, const Tensor& y, const Tensor& grad_y, const Tensor& gamma,
                       const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_x,
                       const Tensor& grad_gamma, const Tensor& grad_beta, const Tensor& grad_residual) {
  const Layout l{x.size(0), x.size(1), x.dim() == 4 ? x.size(2) * x.size(3) : 1};
  DSVD_DISPATCH_FLOATING(x.dtype(), "batch_norm_backward", [&] {
    backward_kernel<scalar_t>(l, x.data<scalar_t>(), gamma.defined() ? gamma.data<scalar_t>() : nullptr,
                              grad_y.data<scalar_t>(), save_mean.data<double>(), save_invstd.data<double>(), true,
                              grad_x.defined() ? grad_x.data<scalar_t>() : nullptr,
                              grad_gamma.defined() ? grad_gamma.data<scalar_t>() : nullptr,
                              grad_beta.defined() ? grad_beta.data<scalar_t>() : nullptr,
                              y.defined() ? y.data<scalar_t>() : nullptr,
                              grad_residual.defined() ? grad_residual.data<scalar_t>() : nullptr);
  });
}

void batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& gamma, const Tensor& save_mean,
                         const Tensor& save_invstd, double /*eps*/, const Tensor& grad_x, const Tensor& grad_gamma,
                         const Tensor& grad_beta) {
  training_backward(x, Tensor(), grad_y, gamma, save_mean, save_invstd, grad_x, grad_gamma, grad_beta, Tensor());
}

void batch_norm_relu_backward(const Tensor& x, const Tensor& y, const Tensor& grad_y, const Tensor& gamma,
                              const Tensor& save_mean, const Tensor& save_invstd, double /*eps*/,
                              const Tensor& grad_x, const Tensor& grad_gamma, const Tensor& grad_beta,
                              const Tensor& grad_residual) {
  training_backward(x, y, grad_y, gamma, save_mean, save_invstd, grad_x, grad_gamma, grad_beta, grad_residual);
}

// Evaluation: the same kernels with the running statistics (in float64) as μ and σ².
void batch_norm_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                          const Tensor& running_var, double eps, const Tensor& y) {
  const int64_t channels = x.size(1);
  const Layout l{x.size(0), channels, x.dim() == 4 ? x.size(2) * x.size(3) : 1};
  Tensor rm = running_mean.to(DType::Float64).contiguous(), rv = running_var.to(DType::Float64).contiguous();
  Tensor mean = empty({channels}, DType::Float64), invstd = empty({channels}, DType::Float64);
  Tensor variance = empty({channels}, DType::Float64);
  DSVD_DISPATCH_FLOATING(x.dtype(), "batch_norm", [&] {
    forward_kernel<scalar_t>(l, x.data<scalar_t>(), gamma.defined() ? gamma.data<scalar_t>() : nullptr,
                             beta.defined() ? beta.data<scalar_t>() : nullptr, false, rm.data<double>(),
                             rv.data<double>(), eps, y.data<scalar_t>(), mean.data<double>(), invstd.data<double>(),
                             variance.data<double>());
  });
}

void batch_norm_inference_backward(const Tensor& x, const Tensor& grad_y, const Tensor& gamma,
                                   const Tensor& running_mean, const Tensor& running_var, double eps,
                                   const Tensor& grad_x, const Tensor& grad_gamma, const Tensor& grad_beta) {
  const int64_t channels = x.size(1);
  const Layout l{x.size(0), channels, x.dim() == 4 ? x.size(2) * x.size(3) : 1};
  Tensor mean = running_mean.to(DType::Float64).contiguous();
  Tensor rv = running_var.to(DType::Float64).contiguous();
  Tensor invstd = empty({channels}, DType::Float64);
  for (int64_t c = 0; c < channels; ++c) invstd.data<double>()[c] = 1.0 / std::sqrt(rv.data<double>()[c] + eps);
  DSVD_DISPATCH_FLOATING(x.dtype(), "batch_norm_backward", [&] {
    backward_kernel<scalar_t>(l, x.data<scalar_t>(), gamma.defined() ? gamma.data<scalar_t>() : nullptr,
                              grad_y.data<scalar_t>(), mean.data<double>(), invstd.data<double>(), false,
                              grad_x.defined() ? grad_x.data<scalar_t>() : nullptr,
                              grad_gamma.defined() ? grad_gamma.data<scalar_t>() : nullptr,
                              grad_beta.defined() ? grad_beta.data<scalar_t>() : nullptr);
  });
}

}  // namespace

DSVD_REGISTER_KERNEL(kernels::BatchNormInferenceKernel, CPU, batch_norm_inference);
DSVD_REGISTER_KERNEL(kernels::BatchNormInferenceBackwardKernel, CPU, batch_norm_inference_backward);
DSVD_REGISTER_KERNEL(kernels::BatchNormTrainingKernel, CPU, batch_norm_training);
DSVD_REGISTER_KERNEL(kernels::BatchNormBackwardKernel, CPU, batch_norm_backward);
DSVD_REGISTER_KERNEL(kernels::BatchNormReluTrainingKernel, CPU, batch_norm_relu_training);
DSVD_REGISTER_KERNEL(kernels::BatchNormReluBackwardKernel, CPU, batch_norm_relu_backward);

}  // namespace dsvd::cpu
