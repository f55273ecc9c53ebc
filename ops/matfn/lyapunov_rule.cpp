// The parts mtp-lya and mpa-lya share (sqrt_rule.h): what their forward saves and notes, and their
// Lyapunov backward.
#include <algorithm>
#include <cmath>

#include "autograd/audit.h"
#include "ops/matfn/lyapunov.h"
#include "ops/matfn/sqrt_rule.h"
#include "ops/ops.h"

namespace dsvd {

SqrtForward lyapunov_rule_forward(const Tensor& sigma, const Tensor& out, const Tensor& root_scale) {
  if (audit::enabled()) {
    double lo = INFINITY, hi = 0;
    for (double r : to_vector(root_scale)) lo = std::min(lo, r * r), hi = std::max(hi, r * r);
    audit::note("frobenius_scale_min", lo);
    audit::note("frobenius_scale_max", hi);
  }
  return {out, {{"sigma", sigma}, {"sqrt", out}, {"root_scale", root_scale}}};
}

Tensor lyapunov_rule_backward(const Tensor& grad_q, const FunctionNode& saved, const MatrixSqrtOptions& options) {
  LyapunovResult r = lyapunov_sign_iteration(saved.saved_tensor("sqrt"), grad_q, saved.saved_tensor("root_scale"),
                                             options.lya_iterations, options.lya_tolerance, audit::enabled());
  if (audit::enabled()) {
    audit::note("sign_iterations", double(r.iterations));
    audit::note("sign_residual", r.residual);  // max ‖B_final − I‖_F
  }
  return r.x;
}

const std::vector<std::string>& lyapunov_rule_notes() {
  static const std::vector<std::string> notes = {"frobenius_scale_min", "frobenius_scale_max", "sign_iterations",
                                                 "sign_residual"};
  return notes;
}

}  // namespace dsvd
