// batch_norm: per-channel normalisation over (N, H, W), with a fused CPU kernel and a
// hand-written backward (n = N·H·W values per channel, x̂ = (x − μ)·s, s = 1/√(σ² + ε)):
//   training:   y = γ·x̂ + β with the batch mean μ and biased variance σ²;
//               running_mean ← (1 − m)·running_mean + m·μ
//               running_var  ← (1 − m)·running_var  + m·σ²·n/(n − 1)
//               dx = γ·s·(dy − mean(dy) − x̂·mean(dy·x̂))
//   evaluation: μ, σ² are the running statistics (constants): dx = γ·s·dy
//   both:       dγ = Σ dy·x̂,  dβ = Σ dy
// Sums are per channel in float64, channels in parallel: results do not depend on the thread count.
#include <cmath>

#include "cuda/dnn.h"
#include "ops/internal.h"
#include "ops/nn_ops.h"
#include "tensor/parallel.h"

namespace dsvd {
namespace {

struct Layout {
  int64_t batch, channels, plane;  // plane = H·W (1 for 2-D input)
  int64_t count() const { return batch * plane; }
  int64_t at(int64_t n, int64_t c) const { return (n * channels + c) * plane; }
};

template <typename T>
void forward_kernel(const Layout& l, const T* x, const T* gamma, const T* beta, bool training, const double* run_mean,
                    const double* run_var, double eps, T* y, double* mean_out, double* invstd_out, double* var_out) {
  parallel_for(0, l.channels, l.batch * l.channels * l.plane > kParallelGrain, [&](int64_t c) {
    double mu, var;
    if (training) {
      double s = 0;
      for (int64_t n = 0; n < l.batch; ++n) {
        const T* p = x + l.at(n, c);
        for (int64_t i = 0; i < l.plane; ++i) s += double(p[i]);
      }
      mu = s / double(l.count());
      double ss = 0;
      for (int64_t n = 0; n < l.batch; ++n) {
        const T* p = x + l.at(n, c);
        for (int64_t i = 0; i < l.plane; ++i) {
          double d = double(p[i]) - mu;
          ss += d * d;
        }
      }
      var = ss / double(l.count());
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
      for (int64_t i = 0; i < l.plane; ++i) q[i] = p[i] * scale + shift;
    }
    mean_out[c] = mu;
    invstd_out[c] = invstd;
    var_out[c] = var;
  });
}

template <typename T>
void backward_kernel(const Layout& l, const T* x, const T* gamma, const T* dy, const double* mean, const double* invstd,
                     bool training, T* dx, T* dgamma, T* dbeta) {
  parallel_for(0, l.channels, l.batch * l.channels * l.plane > kParallelGrain, [&](int64_t c) {
    const double mu = mean[c], s = invstd[c];
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t n = 0; n < l.batch; ++n) {
      const T* p = x + l.at(n, c);
      const T* g = dy + l.at(n, c);
      for (int64_t i = 0; i < l.plane; ++i) {
        sum_dy += double(g[i]);
        sum_dy_xhat += double(g[i]) * (double(p[i]) - mu) * s;
      }
    }
    if (dgamma) dgamma[c] = T(sum_dy_xhat);
    if (dbeta) dbeta[c] = T(sum_dy);
    if (!dx) return;
    const double gs = (gamma ? double(gamma[c]) : 1.0) * s;
    const double inv_n = 1.0 / double(l.count());
    for (int64_t n = 0; n < l.batch; ++n) {
      const T* p = x + l.at(n, c);
      const T* g = dy + l.at(n, c);
      T* out = dx + l.at(n, c);
      if (training) {
        const double a = sum_dy * inv_n, b = sum_dy_xhat * inv_n;
        for (int64_t i = 0; i < l.plane; ++i) out[i] = T(gs * (double(g[i]) - a - (double(p[i]) - mu) * s * b));
      } else {
        for (int64_t i = 0; i < l.plane; ++i) out[i] = T(gs * double(g[i]));
      }
    }
  });
}

// The CUDA path: cuDNN in training; in evaluation y = x·scale + shift with scale = γ/√(σ²+ε) and
// shift = β − μ·scale, written with ops so that autograd gives dx, dγ, dβ.
Tensor batch_norm_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, bool training, double momentum, double eps) {
  const int64_t channels = x.size(1);
  if (!training) {
    Shape per_channel(size_t(x.dim()), 1);
    per_channel[1] = channels;
    Tensor inv = rdiv(sqrt(add(running_var.detach().to(x.dtype()), eps)), 1.0);
    Tensor scale = weight.defined() ? mul(weight, inv) : inv;
    Tensor shift = mul(running_mean.detach().to(x.dtype()), scale);
    shift = bias.defined() ? sub(bias, shift) : neg(shift);
    return add(mul(x, scale.reshape(per_channel)), shift.reshape(per_channel));
  }
  Tensor xc = detail::contiguous_raw(x);
  Tensor w = weight.defined() ? detail::contiguous_raw(weight) : Tensor();
  Tensor b = bias.defined() ? detail::contiguous_raw(bias) : Tensor();
  Tensor y = empty(x.sizes(), x.dtype(), x.device());
  Tensor mean = empty({channels}, x.dtype(), x.device()), invstd = empty({channels}, x.dtype(), x.device());
  cuda::batch_norm_training(xc, w, b, running_mean, running_var, momentum, eps, y, mean, invstd);
  return record_op("batch_norm", {y}, {x, weight, bias}, {{"input", xc}, {"weight", w}, {"mean", mean}, {"invstd", invstd}},
                   [channels, eps](const std::vector<Tensor>& g, FunctionNode& node) {
                     const Tensor& xs = node.saved_tensor(0);
                     const Device dev = xs.device();
                     Tensor dy = detail::contiguous_raw(g[0]);
                     Tensor dx = node.needs_input_grad(0) ? empty(xs.sizes(), xs.dtype(), dev) : Tensor();
                     Tensor dw = node.needs_input_grad(1) ? empty({channels}, xs.dtype(), dev) : Tensor();
                     Tensor db = node.needs_input_grad(2) ? empty({channels}, xs.dtype(), dev) : Tensor();
                     cuda::batch_norm_backward(xs, dy, node.saved_tensor(1), node.saved_tensor(2), node.saved_tensor(3), eps,
                                               dx, dw, db);
                     return std::vector<Tensor>{dx, dw, db};
                   })[0];
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  DSVD_CHECK(x.dim() == 2 || x.dim() == 4, "batch_norm: input must be (N, C) or (N, C, H, W), got shape ",
             shape_str(x.sizes()));
  DSVD_CHECK(is_floating(x.dtype()), "batch_norm: expects float32 or float64, got ", dtype_name(x.dtype()));
  const int64_t channels = x.size(1);
  auto check_vector = [&](const Tensor& t, const char* name, bool same_dtype) {
    if (!t.defined()) return;
    DSVD_CHECK(t.dim() == 1 && t.size(0) == channels, "batch_norm: ", name, " must have shape [", channels, "], got ",
               shape_str(t.sizes()));
    DSVD_CHECK(!same_dtype || t.dtype() == x.dtype(), "batch_norm: ", name, " is ", dtype_name(t.dtype()),
               ", the input is ", dtype_name(x.dtype()));
  };
  check_vector(weight, "weight", true);
  check_vector(bias, "bias", true);
  check_vector(running_mean, "running_mean", false);
  check_vector(running_var, "running_var", false);
  DSVD_CHECK(training || (running_mean.defined() && running_var.defined()), "batch_norm: evaluation mode needs "
             "running_mean and running_var");
  Layout l{x.size(0), channels, x.dim() == 4 ? x.size(2) * x.size(3) : 1};
  DSVD_CHECK(!training || l.count() > 1, "batch_norm: training needs more than one value per channel, got input of "
             "shape ", shape_str(x.sizes()));
  for (const Tensor* t : {&weight, &bias, &running_mean, &running_var})
    DSVD_CHECK(!t->defined() || t->device() == x.device(), "batch_norm: the input is on ", x.device().str(),
               ", a parameter or running statistic on ", t->device().str());
  if (detail::on_cuda(x)) return batch_norm_cuda(x, weight, bias, running_mean, running_var, training, momentum, eps);
  Tensor xc = detail::contiguous_raw(x);
  Tensor w = weight.defined() ? detail::contiguous_raw(weight) : Tensor();
  Tensor b = bias.defined() ? detail::contiguous_raw(bias) : Tensor();
  Tensor rm, rv;
  if (!training) {
    rm = running_mean.to(DType::Float64).contiguous();
    rv = running_var.to(DType::Float64).contiguous();
  }
  Tensor y = empty(x.sizes(), x.dtype());
  Tensor mean = empty({channels}, DType::Float64), invstd = empty({channels}, DType::Float64);
  Tensor variance = empty({channels}, DType::Float64);
  DSVD_DISPATCH_FLOATING(x.dtype(), "batch_norm", [&] {
    forward_kernel<scalar_t>(l, xc.data<scalar_t>(), w.defined() ? w.data<scalar_t>() : nullptr,
                             b.defined() ? b.data<scalar_t>() : nullptr, training,
                             training ? nullptr : rm.data<double>(), training ? nullptr : rv.data<double>(), eps,
                             y.data<scalar_t>(), mean.data<double>(), invstd.data<double>(), variance.data<double>());
  });
  if (training && running_mean.defined() && running_var.defined()) {
    // The buffers are updated in place, as in PyTorch.
    const double unbias = double(l.count()) / double(l.count() - 1);
    DSVD_DISPATCH_FLOATING(running_mean.dtype(), "batch_norm", [&] {
      scalar_t* m = running_mean.data<scalar_t>();
      scalar_t* v = running_var.data<scalar_t>();
      for (int64_t c = 0; c < channels; ++c) {
        m[c] = scalar_t((1 - momentum) * double(m[c]) + momentum * mean.data<double>()[c]);
        v[c] = scalar_t((1 - momentum) * double(v[c]) + momentum * variance.data<double>()[c] * unbias);
      }
    });
  }
  return record_op("batch_norm", {y}, {x, weight, bias}, {{"input", xc}, {"weight", w}, {"mean", mean}, {"invstd", invstd}},
                   [l, training](const std::vector<Tensor>& g, FunctionNode& node) {
                     const Tensor& xs = node.saved_tensor(0);
                     const Tensor& ws = node.saved_tensor(1);
                     Tensor dy = detail::contiguous_raw(g[0]);
                     Tensor dx = node.needs_input_grad(0) ? empty(xs.sizes(), xs.dtype()) : Tensor();
                     Tensor dw = node.needs_input_grad(1) ? empty({l.channels}, xs.dtype()) : Tensor();
                     Tensor db = node.needs_input_grad(2) ? empty({l.channels}, xs.dtype()) : Tensor();
                     DSVD_DISPATCH_FLOATING(xs.dtype(), "batch_norm_backward", [&] {
                       backward_kernel<scalar_t>(l, xs.data<scalar_t>(), ws.defined() ? ws.data<scalar_t>() : nullptr,
                                                 dy.data<scalar_t>(), node.saved_tensor(2).data<double>(),
                                                 node.saved_tensor(3).data<double>(), training,
                                                 dx.defined() ? dx.data<scalar_t>() : nullptr,
                                                 dw.defined() ? dw.data<scalar_t>() : nullptr,
                                                 db.defined() ? db.data<scalar_t>() : nullptr);
                     });
                     return std::vector<Tensor>{dx, dw, db};
                   })[0];
}

}  // namespace dsvd
