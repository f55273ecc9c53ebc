#include "ops/autocast.h"

#include <cstring>

#include "autograd/autocast_mode.h"

namespace dsvd::autocast {

const std::vector<PolicyEntry>& policy_table() {
  static const std::vector<PolicyEntry> table = {
      {"conv2d", Policy::LowPrecision},          {"linear", Policy::LowPrecision},
      {"matmul", Policy::LowPrecision},          {"log_softmax", Policy::Float32},
      {"cross_entropy", Policy::Float32},        {"sum", Policy::Float32},
      {"mean", Policy::Float32},                 {"var", Policy::Float32},
      {"covariance_pool", Policy::Float32},      {"sqrtm", Policy::Float32},
      {"symeig", Policy::Float32},               {"inverse_sqrtm", Policy::Float32},
  };
  return table;
}

Policy policy_of(const std::string& op) {
  for (const PolicyEntry& e : policy_table())
    if (op == e.op) return e.policy;
  return Policy::InputDtype;
}

const char* policy_name(Policy policy) {
  switch (policy) {
    case Policy::LowPrecision: return "low precision";
    case Policy::Float32: return "float32";
    case Policy::InputDtype: return "input dtype";
  }
  return "unknown";
}

Tensor input(const char* op, const Tensor& t) {
  const std::optional<DType> low = autocast_dtype();
  if (!low || !t.defined()) return t;
  switch (policy_of(op)) {
    case Policy::LowPrecision: return t.dtype() == DType::Float32 ? t.to(*low) : t;
    case Policy::Float32: return is_reduced_float(t.dtype()) ? t.to(DType::Float32) : t;
    case Policy::InputDtype: return t;
  }
  return t;
}

}  // namespace dsvd::autocast
