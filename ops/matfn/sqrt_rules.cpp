// The table of matrix square-root rules, in the order of SqrtMethod, and the name lookups.
#include <string>

#include "ops/matfn/sqrt_rule.h"

namespace dsvd {

// Each defined in its own file (the `file` field says which).
extern const SqrtRule original_rule, trunc_rule, topn_rule, taylor_rule, pade_rule, pi_rule, pi_deflation_rule,
    newton_rule, exact_rule, isqrt_rule, mtp_lya_rule, mpa_lya_rule, seb_rule;

const std::vector<const SqrtRule*>& sqrt_rules() {
  static const std::vector<const SqrtRule*> table = {
      &original_rule, &trunc_rule,  &topn_rule,  &taylor_rule, &pade_rule,    &pi_rule,
      &pi_deflation_rule, &newton_rule, &exact_rule, &isqrt_rule, &mtp_lya_rule, &mpa_lya_rule, &seb_rule,
  };
  return table;
}

const SqrtRule& sqrt_rule(SqrtMethod method) {
  for (const SqrtRule* rule : sqrt_rules())
    if (rule->method == method) return *rule;
  fail("sqrtm: no rule for method number ", int(method), " in the table (ops/matfn/sqrt_rules.cpp)");
}

const char* sqrt_method_name(SqrtMethod method) { return sqrt_rule(method).name; }

SqrtMethod parse_sqrt_method(const std::string& name) {
  const std::string key = name.rfind("svd-", 0) == 0 ? name.substr(4) : name;
  std::string valid;
  for (const SqrtRule* rule : sqrt_rules()) {
    if (key == rule->name) return rule->method;
    valid += std::string(valid.empty() ? "" : ", ") + rule->name;
  }
  fail("unknown matrix square-root rule '", name, "' (valid: ", valid, ")");
}

const std::vector<SqrtMethod>& all_sqrt_methods() {
  static const std::vector<SqrtMethod> all = [] {
    std::vector<SqrtMethod> v;
    for (const SqrtRule* rule : sqrt_rules()) v.push_back(rule->method);
    return v;
  }();
  return all;
}

bool repairs_feature_gradient(SqrtMethod method) { return sqrt_rule(method).repairs_feature_gradient; }
bool uses_eigendecomposition(SqrtMethod method) { return sqrt_rule(method).uses_eigendecomposition; }
bool is_square_root(SqrtMethod method) { return sqrt_rule(method).square_root; }

}  // namespace dsvd
