// sqrtm: the forward shared by every SVD rule (eigendecomposition, clamp, Q = V diag(√λ) Vᵀ,
// docs/matrix-functions.md §4.1), iSQRT-COV's Newton–Schulz forward, and the dispatch of the
// backward to the chosen rule.
#include "ops/matfn/sqrtm.h"

#include <cmath>

#include "autograd/audit.h"
#include "ops/internal.h"
#include "ops/matfn/covariance.h"
#include "ops/matfn/eig_backward.h"
#include "ops/matfn/fast_sqrt.h"
#include "ops/matfn/lyapunov.h"
#include "ops/matfn/k_rules.h"
#include "ops/matfn/newton_schulz.h"
#include "ops/matfn/symeig.h"

namespace dsvd {
namespace {

struct MethodName {
  SqrtMethod method;
  const char* name;
};
constexpr MethodName kMethods[] = {
    {SqrtMethod::Original, "original"}, {SqrtMethod::Trunc, "trunc"},   {SqrtMethod::TopN, "topn"},
    {SqrtMethod::Taylor, "taylor"},     {SqrtMethod::Pade, "pade"},     {SqrtMethod::PI, "pi"},
    {SqrtMethod::PIDeflation, "pi-deflation"}, {SqrtMethod::Newton, "newton"}, {SqrtMethod::Exact, "exact"},
    {SqrtMethod::ISqrt, "isqrt"},       {SqrtMethod::MtpLya, "mtp-lya"}, {SqrtMethod::MpaLya, "mpa-lya"},
};

bool is_k_rule(SqrtMethod m) {
  return m == SqrtMethod::Original || m == SqrtMethod::Trunc || m == SqrtMethod::TopN || m == SqrtMethod::Taylor ||
         m == SqrtMethod::Pade;
}

Tensor build_k(SqrtMethod m, const Tensor& lambda, const MatrixSqrtOptions& o) {
  switch (m) {
    case SqrtMethod::Original:
    case SqrtMethod::TopN: return k_original(lambda);
    case SqrtMethod::Trunc: return k_trunc(lambda, o.trunc_limit);
    case SqrtMethod::Taylor: return k_taylor(lambda, o.taylor_degree);
    case SqrtMethod::Pade: return k_pade(lambda);
    default: fail("build_k: ", sqrt_method_name(m), " is not a K-based rule");
  }
}

// Newton–Schulz state <-> named saved tensors, so an audit can dump every intermediate.
std::vector<Saved> save_state(const NewtonSchulzState& s) {
  std::vector<Saved> out = {{"ns_a", s.a}, {"ns_y_final", s.y_final}, {"ns_trace", s.trace}};
  for (size_t k = 0; k < s.y.size(); ++k) {
    out.push_back({"ns_y" + std::to_string(k), s.y[k]});
    out.push_back({"ns_z" + std::to_string(k), s.z[k]});
  }
  return out;
}

NewtonSchulzState load_state(const FunctionNode& node, size_t first, int iterations) {
  NewtonSchulzState s;
  s.iterations = iterations;
  s.a = node.saved_tensor(first);
  s.y_final = node.saved_tensor(first + 1);
  s.trace = node.saved_tensor(first + 2);
  for (size_t k = first + 3; k + 1 < node.saved.size(); k += 2) {
    s.y.push_back(node.saved_tensor(k));
    s.z.push_back(node.saved_tensor(k + 1));
  }
  return s;
}

void check_iterations(const char* what, int n) {
  DSVD_CHECK(n >= 1, "sqrtm: ", what, " must be >= 1, got ", n);
}

}  // namespace

const char* sqrt_method_name(SqrtMethod method) {
  for (const auto& m : kMethods)
    if (m.method == method) return m.name;
  return "unknown";
}

SqrtMethod parse_sqrt_method(const std::string& name) {
  std::string key = name.rfind("svd-", 0) == 0 ? name.substr(4) : name;
  for (const auto& m : kMethods)
    if (key == m.name) return m.method;
  std::string valid;
  for (const auto& m : kMethods) valid += std::string(valid.empty() ? "" : ", ") + m.name;
  fail("unknown matrix square-root rule '", name, "' (valid: ", valid, ")");
}

const std::vector<SqrtMethod>& all_sqrt_methods() {
  static const std::vector<SqrtMethod> all = [] {
    std::vector<SqrtMethod> v;
    for (const auto& m : kMethods) v.push_back(m.method);
    return v;
  }();
  return all;
}

bool repairs_feature_gradient(SqrtMethod m) { return is_k_rule(m) || m == SqrtMethod::PI; }

bool uses_eigendecomposition(SqrtMethod m) {
  return m != SqrtMethod::ISqrt && m != SqrtMethod::MtpLya && m != SqrtMethod::MpaLya;
}

Tensor sqrtm(const Tensor& sigma, const MatrixSqrtOptions& options) {
  DSVD_CHECK(sigma.dim() == 3 && sigma.size(1) == sigma.size(2), "sqrtm: expects square matrices (B, n, n), got "
             "shape ", shape_str(sigma.sizes()));
  DSVD_CHECK(is_floating(sigma.dtype()), "sqrtm: expects float32 or float64, got ", dtype_name(sigma.dtype()));
  check_iterations("pi_iterations", options.pi_iterations);
  check_iterations("newton_iterations", options.newton_iterations);
  check_iterations("isqrt_iterations", options.isqrt_iterations);
  check_iterations("lya_iterations", options.lya_iterations);
  DSVD_CHECK(options.lya_tolerance >= 0, "sqrtm: lya_tolerance must be >= 0, got ", options.lya_tolerance);
  const SqrtMethod method = options.method;
  const MatrixSqrtOptions opts = options;
  auto report = options.report;

  Tensor out, smallest_signed, magnitudes;  // w_min (B) and |w| (B, n): the indefinite check
  std::vector<Saved> saved;
  {
    NoGradGuard no_grad;
    if (method == SqrtMethod::ISqrt) {
      NewtonSchulzState state = newton_schulz_forward(sigma, options.isqrt_iterations);
      out = newton_schulz_output(state);
      saved = save_state(state);
      saved.insert(saved.begin(), {"sigma", sigma});
    } else if (method == SqrtMethod::MtpLya || method == SqrtMethod::MpaLya) {
      // docs/matrix-functions.md §10: polynomial (MTP) or Padé with one solve (MPA) in Z = I − Σ/‖Σ‖_F.
      FastSqrtForward f = method == SqrtMethod::MtpLya ? mtp_sqrt_forward(sigma) : mpa_sqrt_forward(sigma);
      out = f.out;
      saved = {{"sigma", sigma}, {"sqrt", f.out}, {"root_scale", f.root_scale}};
      if (audit::enabled()) {
        auto s = to_vector(f.root_scale);
        double lo = INFINITY, hi = 0;
        for (double r : s) lo = std::min(lo, r * r), hi = std::max(hi, r * r);
        audit::note("frobenius_scale_min", lo);
        audit::note("frobenius_scale_max", hi);
      }
    } else {
      // §4.1: eigendecomposition, (TopN,) clamp at the dtype's floor ε, Q = V diag(√λ) Vᵀ.
      SymEig eig = symeig_descending(sigma);
      smallest_signed = eig.smallest;
      magnitudes = eig.values;
      Tensor s = method == SqrtMethod::TopN ? topn_eigenvalues(eig.values, options.topn_drop) : eig.values;
      const double floor = clamp_floor(s.dtype());
      Tensor lambda = where(le(s, floor), scalar_tensor(floor, s.dtype()), s);
      out = matmul(mul(eig.vectors, sqrt(lambda).unsqueeze(1)), eig.vectors.transpose(1, 2));
      if (report) {
        report->eigenvalues = lambda;
        report->eigenvalue_magnitudes = eig.values;  // read only when someone asks: no sync here
        report->smallest_eigenvalues = eig.smallest;
      }
      saved = {{"sigma", sigma}, {"eigenvectors", eig.vectors}, {"eigenvalues", lambda}};
      if (method == SqrtMethod::Newton) {
        // SVD-Newton: the output is the SVD's, the backward is Newton–Schulz's on Σ/tr(Σ).
        auto ns = save_state(newton_schulz_forward(sigma, options.newton_iterations));
        saved.insert(saved.end(), ns.begin(), ns.end());
      }
    }
  }

  if (audit::enabled()) {
    // The eigenvalue spectrum of this call, for the trace line of this op.
    const Tensor* lambda = nullptr;
    for (const auto& s : saved)
      if (s.name == "eigenvalues") lambda = &s.tensor;
    if (lambda) {
      auto l = to_vector(*lambda);
      const int64_t n = lambda->size(1), batch = lambda->size(0);
      double lo = INFINITY, hi = 0, gap = INFINITY, cond = 0, cond_max = 0;
      int64_t floor_count = 0, cond_max_sample = 0;
      for (int64_t b = 0; b < batch; ++b) {
        const double* row = l.data() + b * n;
        cond += row[0] / row[n - 1] / double(batch);
        if (row[0] / row[n - 1] > cond_max) {
          cond_max = row[0] / row[n - 1];
          cond_max_sample = b;
        }
        for (int64_t k = 0; k < n; ++k) {
          lo = std::min(lo, row[k]);
          hi = std::max(hi, row[k]);
          floor_count += row[k] <= clamp_floor(lambda->dtype());
          if (k > 0) gap = std::min(gap, row[k - 1] - row[k]);
        }
      }
      audit::note("eig_min", lo);
      audit::note("eig_max", hi);
      audit::note("eig_at_clamp_floor", double(floor_count));
      audit::note("eig_smallest_gap", gap);
      audit::note("condition_number_mean", cond);
      audit::note("condition_number_max", cond_max);
      audit::note("condition_number_max_sample", double(cond_max_sample));
      if (smallest_signed.defined()) {
        auto bad = indefinite_samples(magnitudes, smallest_signed);
        audit::note("indefinite_samples", double(bad.size()));
        if (!bad.empty()) audit::note("most_negative_eigenvalue", std::min_element(bad.begin(), bad.end(), [](auto& a, auto& b) {
                                        return a.second < b.second;
                                      })->second);
      }
    }
  }
  std::string name = std::string("sqrtm[") + sqrt_method_name(method) + "]";
  return record_op(name.c_str(), {out}, {sigma}, std::move(saved),
                   [opts, report, method](const std::vector<Tensor>& g, FunctionNode& node) {
                     const Tensor& sig = node.saved_tensor(0);
                     Tensor grad_q = g[0].to(sig.dtype());
                     Tensor grad_sigma;
                     if (method == SqrtMethod::ISqrt) {
                       grad_sigma = newton_schulz_backward(grad_q, sig, load_state(node, 1, opts.isqrt_iterations));
                     } else if (method == SqrtMethod::MtpLya || method == SqrtMethod::MpaLya) {
                       LyapunovResult r = lyapunov_sign_iteration(node.saved_tensor(1), grad_q, node.saved_tensor(2),
                                                                  opts.lya_iterations, opts.lya_tolerance,
                                                                  audit::enabled());
                       grad_sigma = r.x;
                       if (audit::enabled()) {
                         audit::note("sign_iterations", double(r.iterations));
                         audit::note("sign_residual", r.residual);  // max ‖B_final − I‖_F
                       }
                     } else if (method == SqrtMethod::Newton) {
                       grad_sigma = newton_schulz_backward(grad_q, sig, load_state(node, 3, opts.newton_iterations));
                     } else {
                       const Tensor& v = node.saved_tensor(1);
                       const Tensor& lambda = node.saved_tensor(2);
                       if (method == SqrtMethod::Exact) {
                         grad_sigma = svd_exact_backward(grad_q, v, lambda);
                       } else {
                         PowerGradients power = power_backward(grad_q, v, lambda);
                         if (method == SqrtMethod::PI) {
                           grad_sigma = svd_pi_backward(power, v, sig, opts.pi_iterations);
                         } else if (method == SqrtMethod::PIDeflation) {
                           grad_sigma = svd_pi_deflation_backward(power, v, lambda, opts.pi_iterations);
                         } else {
                           grad_sigma = k_rule_backward(power, v, build_k(method, lambda, opts),
                                                        method != SqrtMethod::Trunc, report.get());
                         }
                       }
                     }
                     if (report) report->backward_calls++;
                     if (audit::enabled()) {
                       auto norm = [](const Tensor& t) { return std::sqrt(sum(mul(t, t)).item()); };
                       audit::note("grad_norm_in", norm(grad_q));
                       audit::note("grad_norm_out", norm(grad_sigma));
                       if (report) {
                         audit::note("max_abs_k", report->max_abs_k);
                         for (const auto& [site, count] : report->repairs.entries)
                           if (site.rfind("grad_features", 0) != 0) audit::note("repairs." + site, double(count));
                       }
                     }
                     return std::vector<Tensor>{grad_sigma};
                   })[0];
}

Tensor covariance_sqrt_pooling(const Tensor& features, const CovariancePoolingOptions& options) {
  CovarianceOptions cov;
  cov.dtype = options.dtype;
  cov.repair_gradient = repairs_feature_gradient(options.sqrt.method);
  cov.report = options.sqrt.report;
  Tensor sigma = covariance_pool(features, cov);
  return triu_vec(sqrtm(sigma, options.sqrt)).to(DType::Float32);
}

}  // namespace dsvd
