// sqrtm: the skeleton every square-root rule runs in (the rules themselves: sqrt_rule.h and the
// file each names). Check Σ, run the rule's forward without recording, record one node with the
// rule's named saved tensors; its backward casts G to Σ's dtype, calls the rule (or builds K̃ and
// runs the shared K step), and notes the gradient norms (and the repairs) for the audit.
#include "ops/matfn/sqrtm.h"

#include <cmath>

#include "autograd/autocast_mode.h"
#include "ops/autocast.h"
#include "autograd/audit.h"
#include "ops/internal.h"
#include "ops/matfn/covariance.h"
#include "ops/matfn/sqrt_rule.h"

namespace dsvd {
namespace {

void check_iterations(const char* what, int n) {
  DSVD_CHECK(n >= 1, "sqrtm: ", what, " must be >= 1, got ", n);
}

double frobenius_norm(const Tensor& t) { return std::sqrt(sum(mul(t, t)).item()); }

}  // namespace

Tensor sqrtm(const Tensor& sigma_in, const MatrixSqrtOptions& options) {
  const Tensor sigma = autocast::input("sqrtm", sigma_in);
  AutocastScope full_precision(std::nullopt);  // its inner products stay in its dtype

  DSVD_CHECK(sigma.dim() == 3 && sigma.size(1) == sigma.size(2), "sqrtm: expects square matrices (B, n, n), got "
             "shape ", shape_str(sigma.sizes()));
  DSVD_CHECK(is_floating(sigma.dtype()) && !is_reduced_float(sigma.dtype()), "sqrtm: expects float32 or float64, got ", dtype_name(sigma.dtype()));
  check_iterations("pi_iterations", options.pi_iterations);
  check_iterations("newton_iterations", options.newton_iterations);
  check_iterations("isqrt_iterations", options.isqrt_iterations);
  check_iterations("lya_iterations", options.lya_iterations);
  DSVD_CHECK(options.lya_tolerance >= 0, "sqrtm: lya_tolerance must be >= 0, got ", options.lya_tolerance);
  const SqrtRule& rule = sqrt_rule(options.method);

  SqrtForward forward;
  {
    NoGradGuard no_grad;
    forward = rule.forward(sigma, options);
  }
  const std::string name = std::string("sqrtm[") + rule.name + "]";
  return record_op(name.c_str(), {forward.out}, {sigma}, std::move(forward.saved),
                   [&rule, options](const std::vector<Tensor>& g, FunctionNode& node) {
                     MatfnReport* report = options.report.get();
                     Tensor grad_q = g[0].to(node.saved_tensor("sigma").dtype());
                     Tensor grad_sigma =
                         rule.k_builder
                             ? k_step(grad_q, node, rule.k_builder(node.saved_tensor("eigenvalues"), options), rule.fix_k,
                                      options)
                             : rule.backward(grad_q, node, options);
                     if (report) report->backward_calls++;
                     if (audit::enabled()) {
                       audit::note("grad_norm_in", frobenius_norm(grad_q));
                       audit::note("grad_norm_out", frobenius_norm(grad_sigma));
                       if (report)
                         for (const auto& [site, count] : report->repairs.read())
                           if (site.rfind("grad_features", 0) != 0) audit::note("repairs." + site, double(count));
                     }
                     return std::vector<Tensor>{grad_sigma};
                   })[0];
}

Tensor covariance_sqrt_pooling(const Tensor& features, const CovariancePoolingOptions& options) {
  CovarianceOptions cov;
  cov.dtype = options.dtype;
  cov.repair_gradient = repairs_feature_gradient(options.sqrt.method);
  cov.report = options.sqrt.report;
  cov.repair_across_replicas = options.sqrt.repair_across_replicas;
  Tensor sigma = covariance_pool(features, cov);
  return triu_vec(sqrtm(sigma, options.sqrt)).to(DType::Float32);
}

}  // namespace dsvd
