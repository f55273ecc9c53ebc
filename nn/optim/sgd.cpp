#include "nn/optim/sgd.h"

#include "cuda/backend.h"
#include "cuda/profiler.h"
#include "ops/cpu/copy_kernel.h"
#include "tensor/parallel.h"

namespace dsvd::nn {

Sgd::Sgd(NamedTensors parameters, SgdOptions options) : params_(std::move(parameters)), options_(options) {
  DSVD_CHECK(options.lr >= 0 && options.momentum >= 0 && options.weight_decay >= 0, "SGD: lr, momentum and weight "
             "decay must be non-negative (lr ", options.lr, ", momentum ", options.momentum, ", weight decay ",
             options.weight_decay, ")");
  DSVD_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0), "SGD: Nesterov momentum requires "
             "a momentum and zero dampening");
  buffers_.resize(params_.size());
  for (const auto& [name, p] : params_)
    DSVD_CHECK(p.dtype() == DType::Float32 || p.dtype() == DType::Float64, "SGD: parameter '", name, "' is ",
               dtype_name(p.dtype()));
}

void Sgd::step() {
  cuda::ProfileRange range("sgd step");
  const double lr = options_.lr, mu = options_.momentum, damp = options_.dampening;
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = params_[i].first;
    const Tensor& p = params_[i].second;  // not a structured binding: lambdas below capture it
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    DSVD_CHECK(grad.sizes() == p.sizes(), "SGD: gradient of '", name, "' has shape ", shape_str(grad.sizes()));
    grad = grad.contiguous();
    const bool decay = options_.weight_decay != 0 && !(options_.exclude_bn_and_bias_from_weight_decay && p.dim() < 2);
    const double wd = decay ? options_.weight_decay : 0.0;
    const bool first = !buffers_[i].defined();
    if (mu != 0 && first) buffers_[i] = empty(p.sizes(), p.dtype(), p.device());
    if (p.device().is_cuda()) {
      DSVD_CHECK(grad.device() == p.device(), "SGD: gradient of '", name, "' is on ", grad.device().str(),
                 ", the parameter on ", p.device().str());
      cuda::sgd_update(p, grad, mu != 0 ? buffers_[i] : Tensor(), lr, mu, damp, wd, options_.nesterov, first);
      continue;
    }
    DSVD_DISPATCH_FLOATING(p.dtype(), "sgd", [&] {
      scalar_t* w = p.data<scalar_t>();
      const scalar_t* g = grad.data<scalar_t>();
      scalar_t* b = mu != 0 ? buffers_[i].data<scalar_t>() : nullptr;
      const int64_t n = p.numel();
      parallel_for(0, n, n > kParallelGrain, [&](int64_t k) {
        scalar_t d = g[k];
        if (wd != 0) d += scalar_t(wd) * w[k];
        if (b) {
          b[k] = first ? d : scalar_t(mu) * b[k] + scalar_t(1 - damp) * d;
          d = options_.nesterov ? d + scalar_t(mu) * b[k] : b[k];
        }
        w[k] -= scalar_t(lr) * d;
      });
    });
  }
}

void Sgd::zero_grad() {
  for (auto& [name, p] : params_) p.zero_grad();
}

NamedTensors Sgd::state() const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i)
    if (buffers_[i].defined()) out.emplace_back("momentum_buffer." + params_[i].first, buffers_[i]);
  return out;
}

void Sgd::load_state(const NamedTensors& state) {
  for (const auto& [key, value] : state) {
    const std::string prefix = "momentum_buffer.";
    DSVD_CHECK(key.rfind(prefix, 0) == 0, "SGD state: unexpected entry '", key, "'");
    std::string name = key.substr(prefix.size());
    bool found = false;
    for (size_t i = 0; i < params_.size(); ++i) {
      if (params_[i].first != name) continue;
      DSVD_CHECK(value.sizes() == params_[i].second.sizes() && value.dtype() == params_[i].second.dtype(),
                 "SGD state: momentum buffer of '", name, "' has shape ", shape_str(value.sizes()), ", the parameter ",
                 shape_str(params_[i].second.sizes()));
      buffers_[i] = value.detach().to(params_[i].second.device()).clone();
      found = true;
    }
    DSVD_CHECK(found, "SGD state: no parameter named '", name, "'");
  }
}

}  // namespace dsvd::nn
