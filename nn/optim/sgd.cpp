#include "nn/optim/sgd.h"

#include <algorithm>
#include <cmath>

#include "ops/ops.h"
#include "ops/optim.h"
#include "tensor/device_backend.h"
#include "tensor/profiler.h"

namespace dsvd::nn {

Sgd::Sgd(NamedTensors parameters, SgdOptions options) : params_(std::move(parameters)), options_(options) {
  DSVD_CHECK(options.lr >= 0 && options.momentum >= 0 && options.weight_decay >= 0, "SGD: lr, momentum and weight "
             "decay must be non-negative (lr ", options.lr, ", momentum ", options.momentum, ", weight decay ",
             options.weight_decay, ")");
  DSVD_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0), "SGD: Nesterov momentum requires "
             "a momentum and zero dampening");
  buffers_.resize(params_.size());
  lr_factors_.assign(params_.size(), 1.0);
  for (const auto& [name, p] : params_)
    DSVD_CHECK(p.dtype() == DType::Float32 || p.dtype() == DType::Float64, "SGD: parameter '", name, "' is ",
               dtype_name(p.dtype()));
}

void Sgd::step() { step(Tensor()); }

void Sgd::step(const Tensor& skip_if_set) {
  ProfileRange range("sgd step");
  const double mu = options_.momentum, damp = options_.dampening;
  bool made_buffers = false;
  std::vector<std::pair<Device, std::vector<SgdParamUpdate>>> by_device;  // one update op per device
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = params_[i].first;
    const Tensor& p = params_[i].second;  // not a structured binding: lambdas below capture it
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    DSVD_CHECK(grad.sizes() == p.sizes(), "SGD: gradient of '", name, "' has shape ", shape_str(grad.sizes()));
    DSVD_CHECK(grad.device() == p.device(), "SGD: gradient of '", name, "' is on ", grad.device().str(),
               ", the parameter on ", p.device().str());
    const bool decay = options_.weight_decay != 0 && !(options_.exclude_bn_and_bias_from_weight_decay && p.dim() < 2);
    const double wd = decay ? options_.weight_decay : 0.0;
    const bool first = !buffers_[i].defined();
    on_device(p.device());
    if (mu != 0 && first) {
      buffers_[i] = empty(p.sizes(), p.dtype(), p.device());
      made_buffers = true;
    }
    auto group = std::find_if(by_device.begin(), by_device.end(), [&](const auto& g) { return g.first == p.device(); });
    if (group == by_device.end()) group = by_device.insert(by_device.end(), {p.device(), {}});
    group->second.push_back({p, grad, mu != 0 ? buffers_[i] : Tensor(), lr_factors_[i], wd, first});
  }
  for (const auto& [device, updates] : by_device) {
    const OnDevice& d = on_device(device);
    const SgdDeviceScalars scalars{d.lr, skip_if_set, skip_if_set.defined() ? d.started : Tensor()};
    sgd_update_many_(updates, scalars, mu, damp, options_.nesterov);
  }
  if (!skip_if_set.defined()) {
    if (made_buffers)  // an update without a skip flag always happens: the buffers have started
      for (OnDevice& d : on_device_) fill_(d.started, 1.0);
    return;
  }
  for (OnDevice& d : on_device_) {  // started += (skip == 0)
    const Tensor applied = eq(skip_if_set.to(d.device), zeros({}, DType::Float64, d.device)).to(DType::Float64);
    copy_(d.started, add(d.started, applied));
  }
}

void Sgd::set_lr(double lr) {
  DSVD_CHECK(lr >= 0 && std::isfinite(lr), "SGD: the learning rate must be finite and non-negative, got ", lr);
  options_.lr = lr;
  for (OnDevice& d : on_device_) fill_(d.lr, lr);
}

Sgd::OnDevice& Sgd::on_device(Device device) {
  for (OnDevice& d : on_device_)
    if (d.device == device) return d;
  DSVD_CHECK(!is_capturing(device), "SGD: the first step on ", device.str(), " is being recorded in a graph; make "
             "one step without recording first (it also makes the momentum buffers)");
  bool started = false;  // momentum buffers loaded from a checkpoint count as started
  for (const Tensor& b : buffers_) started = started || b.defined();
  on_device_.push_back({device, full({}, options_.lr, DType::Float64, device),
                        full({}, started ? 1.0 : 0.0, DType::Float64, device)});
  return on_device_.back();
}

int64_t Sgd::set_lr_factor(const std::string& prefix, double factor) {
  DSVD_CHECK(factor >= 0, "SGD: a learning-rate factor must be non-negative, got ", factor);
  int64_t n = 0;
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].first.rfind(prefix, 0) == 0) {
      lr_factors_[i] = factor;
      ++n;
    }
  return n;
}

void Sgd::zero_grad() {
  for (auto& [name, p] : params_) p.zero_grad();
}

NamedTensors Sgd::state() const {
  // Buffers made by steps that were all skipped (step(skip_if_set)) hold nothing yet: as in
  // PyTorch, there is no momentum until an update has run (one read, when a checkpoint asks).
  for (const OnDevice& d : on_device_)
    if (d.started.item() == 0) return {};
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i)
    if (buffers_[i].defined()) out.emplace_back("momentum_buffer." + params_[i].first, buffers_[i]);
  return out;
}

int64_t Sgd::load_matching_state(const NamedTensors& state) {
  const std::string prefix = "momentum_buffer.";
  NamedTensors matching;
  for (const auto& [key, value] : state) {
    if (key.rfind(prefix, 0) != 0) continue;
    const std::string name = key.substr(prefix.size());
    for (const auto& [pn, p] : params_)
      if (pn == name && p.sizes() == value.sizes() && p.dtype() == value.dtype()) matching.emplace_back(key, value);
  }
  load_state(matching);
  return int64_t(matching.size());
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
  if (!state.empty())
    for (OnDevice& d : on_device_) fill_(d.started, 1.0);
}

}  // namespace dsvd::nn
