#include "ops/matfn/covariance.h"

#include "autograd/autocast_mode.h"
#include "ops/autocast.h"
#include "autograd/audit.h"
#include "ops/internal.h"

namespace dsvd {

Tensor covariance_pool(const Tensor& x_in, const CovarianceOptions& options) {
  const Tensor x = autocast::input("covariance_pool", x_in);
  AutocastScope full_precision(std::nullopt);  // its inner products stay in its dtype

  DSVD_CHECK(x.dim() == 3 || x.dim() == 4, "covariance_pool: expects features (B, n, H, W) or (B, n, M), got shape ",
             shape_str(x.sizes()));
  DSVD_CHECK(is_floating(x.dtype()) && is_floating(options.dtype), "covariance_pool: expects float features and a float "
             "compute dtype, got ", dtype_name(x.dtype()), " and ", dtype_name(options.dtype));
  const int64_t batch = x.size(0), n = x.size(1), m = x.numel() / std::max<int64_t>(1, batch * n);
  DSVD_CHECK(m > 0, "covariance_pool: features of shape ", shape_str(x.sizes()), " have no spatial positions");
  Tensor centred, sigma;
  {
    NoGradGuard no_grad;
    Tensor flat = x.to(options.dtype).reshape({batch, n, m});
    centred = sub(flat, mean(flat, {2}, true)).contiguous();   // X̄ = X̂ − μ1ᵀ
    sigma = div(matmul(centred, centred.transpose(1, 2)), double(m));  // Σ = X̄X̄ᵀ/M
  }
  const Shape input_shape = x.sizes();
  const DType input_dtype = x.dtype();
  const bool repair = options.repair_gradient;
  auto report = options.report;
  const ReplicaMax across_replicas = options.repair_across_replicas;
  return record_op("covariance_pool", {sigma}, {x}, {{"centred", centred}},
                   [=](const std::vector<Tensor>& g, FunctionNode& node) {
                     const Tensor& xbar = node.saved_tensor(0);
                     Tensor gs = g[0].to(xbar.dtype());
                     Tensor gx = div(matmul(add(gs, gs.transpose(1, 2)), xbar), double(m)).contiguous();
                     if (repair) {
                       // Counted straight into the report; the audit, which notes this call's
                       // counts alone, counts apart and merges.
                       const bool apart = audit::enabled() || !report;
                       RepairCounts here;
                       RepairCounts* counts = apart ? &here : &report->repairs;
                       repair_infinities(gx, "grad_features", counts, across_replicas);
                       repair_nan_to_zero(gx, "grad_features", counts);
                       if (apart && report) report->repairs.merge(here);
                       if (audit::enabled())
                         for (const auto& [site, n] : here.read()) audit::note("repairs." + site, double(n));
                     }
                     return std::vector<Tensor>{gx.reshape(input_shape).to(input_dtype)};
                   })[0];
}

}  // namespace dsvd
