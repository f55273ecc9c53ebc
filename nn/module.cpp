#include "nn/module.h"

#include <cstring>
#include <optional>

#include "autograd/audit.h"
#include "tensor/profiler.h"
#include "ops/internal.h"

namespace dsvd::nn {

Tensor Module::forward(const Tensor& x) {
  return forward_scoped(x, [this](const Tensor& in) { return forward_impl(in); });
}

Tensor Module::forward_scoped(const Tensor& x, const std::function<Tensor(const Tensor&)>& impl) {
  std::optional<ProfileRange> range;  // leaf modules: their ops' time under their type
  if (profiling() && children_.empty()) range.emplace(type_name_ + " forward");
  if (!audit::enabled()) return impl(x);
  audit::ModuleScope scope(local_name_);
  return audit::probe_module(impl(audit::probe_module_input(x)));
}

void Module::check_name(const std::string& name) const {
  DSVD_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name_, ": invalid member name '", name,
             "' (must be non-empty and contain no '.')");
  for (const auto& [n, t] : params_) DSVD_CHECK(n != name, type_name_, ": '", name, "' is already registered");
  for (const auto& [n, t] : buffers_) DSVD_CHECK(n != name, type_name_, ": '", name, "' is already registered");
  for (const auto& [n, m] : children_) DSVD_CHECK(n != name, type_name_, ": '", name, "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  check_name(name);
  value.requires_grad_(true);
  params_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_name(name);
  buffers_.emplace_back(name, value);
  return value;
}

void Module::collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const {
  if (params)
    for (const auto& [n, t] : params_) out.emplace_back(prefix + n, t);
  if (buffers)
    for (const auto& [n, t] : buffers_) out.emplace_back(prefix + n, t);
  for (const auto& [n, m] : children_) m->collect(prefix + n + ".", params, buffers, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, false, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, true, out);
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect("", true, true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules(const std::string& prefix) const {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  for (const auto& [n, m] : children_) {
    std::string name = prefix.empty() ? n : prefix + "." + n;
    out.emplace_back(name, m);
    auto sub = m->named_modules(name);
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const auto& t : parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

void Module::to(Device device) {
  for (const auto& [name, t] : state_dict()) {
    if (t.device() == device) continue;
    Tensor moved = t.detach().to(device);
    TensorImpl& impl = *t.impl();
    impl.storage = moved.impl()->storage;
    impl.offset = moved.offset();
    impl.strides = moved.strides();
    impl.grad.reset();
  }
}

void Module::zero_grad() {
  for (auto& t : parameters()) t.zero_grad();
}

void Module::load_tensor(const std::string& dotted_name, const Tensor& value) {
  for (const auto& [name, t] : state_dict()) {
    if (name != dotted_name) continue;
    DSVD_CHECK(t.sizes() == value.sizes(), "load: '", dotted_name, "' has shape ", shape_str(t.sizes()),
               " in the model but ", shape_str(value.sizes()), " in the source");
    DSVD_CHECK(t.dtype() == value.dtype(), "load: '", dotted_name, "' is ", dtype_name(t.dtype()),
               " in the model but ", dtype_name(value.dtype()), " in the source");
    detail::copy_raw(t, value);  // into the model's tensor, on whatever device it lives
    return;
  }
  fail("load: the model has no parameter or buffer named '", dotted_name, "'");
}

}  // namespace dsvd::nn
