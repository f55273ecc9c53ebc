// The inverse matrix square root (inverse_sqrtm.h): MPA-Lya-Inv and the eigendecomposition's.
#include "ops/matfn/inverse_sqrtm.h"

#include <algorithm>
#include <cmath>

#include "autograd/autocast_mode.h"
#include "ops/autocast.h"
#include "autograd/audit.h"
#include "ops/internal.h"
#include "ops/matfn/fast_sqrt.h"
#include "ops/matfn/k_rules.h"
#include "ops/matfn/lyapunov.h"
#include "ops/matfn/symeig.h"

namespace dsvd {
namespace {

// MPA-Lya-Inv's backward: G' = −A⁻¹ G A⁻¹ (A⁻¹ = W W), then W X + X W = G' by the sign iteration,
// scaled by the Frobenius norm of the whole batch of W (the reference's choice).
Tensor mpa_inverse_backward(const Tensor& w, const Tensor& g, const InverseSqrtOptions& options) {
  Tensor a_inverse = matmul(w, w);
  Tensor g_prime = neg(matmul(matmul(a_inverse, g), a_inverse));
  Tensor scale = sqrt(sum(mul(w, w))).reshape({1, 1, 1}).expand({w.size(0), 1, 1}).contiguous();
  LyapunovResult r = lyapunov_sign_iteration(w, g_prime, scale, options.lya_iterations, options.lya_tolerance,
                                             audit::enabled());
  if (audit::enabled()) {
    audit::note("sign_iterations", double(r.iterations));
    audit::note("sign_residual", r.residual);
  }
  return r.x;
}

// Daleckii–Krein for f(λ) = λ^{-1/2}: V (F ∘ Vᵀ G V) Vᵀ, F_ij = −1/(√λi √λj (√λi + √λj)).
Tensor eig_inverse_backward(const Tensor& v, const Tensor& lambda, const Tensor& g) {
  Tensor root = sqrt(lambda);                                         // (B, n)
  Tensor ri = root.unsqueeze(2), rj = root.unsqueeze(1);               // (B, n, 1), (B, 1, n)
  Tensor f = rdiv(mul(mul(ri, rj), add(ri, rj)), -1.0);               // (B, n, n)
  Tensor inner = mul(f, matmul(v.transpose(1, 2), matmul(g, v)));
  return matmul(matmul(v, inner), v.transpose(1, 2));
}

}  // namespace

const char* inverse_sqrt_method_name(InverseSqrtMethod method) {
  return method == InverseSqrtMethod::MpaLyaInv ? "mpa-lya-inv" : "eig";
}

InverseSqrtMethod parse_inverse_sqrt_method(const std::string& name) {
  if (name == "mpa-lya-inv") return InverseSqrtMethod::MpaLyaInv;
  if (name == "eig" || name == "svd" || name == "exact") return InverseSqrtMethod::Eig;
  fail("inverse square root: unknown method '", name, "' (mpa-lya-inv, or eig: the eigendecomposition's)");
}

Tensor inverse_sqrtm(const Tensor& a_in, const InverseSqrtOptions& options) {
  const Tensor a = autocast::input("inverse_sqrtm", a_in);
  AutocastScope full_precision(std::nullopt);  // its inner products stay in its dtype

  DSVD_CHECK(a.dim() == 3 && a.size(1) == a.size(2), "inverse_sqrtm: expects square matrices (B, n, n), got shape ",
             shape_str(a.sizes()));
  DSVD_CHECK(is_floating(a.dtype()) && !is_reduced_float(a.dtype()), "inverse_sqrtm: expects float32 or float64, got ", dtype_name(a.dtype()));
  DSVD_CHECK(options.lya_iterations >= 1, "inverse_sqrtm: lya_iterations must be >= 1, got ", options.lya_iterations);
  DSVD_CHECK(options.lya_tolerance >= 0, "inverse_sqrtm: lya_tolerance must be >= 0, got ", options.lya_tolerance);
  const std::string name = std::string("inverse_sqrtm[") + inverse_sqrt_method_name(options.method) + "]";
  if (options.method == InverseSqrtMethod::MpaLyaInv) {
    Tensor w;
    {
      NoGradGuard no_grad;
      w = mpa_inverse_sqrt_forward(a).out;
    }
    return record_op(name.c_str(), {w}, {a}, {{"inverse_sqrt", w}},
                     [options](const std::vector<Tensor>& g, FunctionNode& node) {
                       const Tensor& w = node.saved_tensor("inverse_sqrt");
                       return std::vector<Tensor>{mpa_inverse_backward(w, g[0].to(w.dtype()), options)};
                     })[0];
  }
  Tensor v, lambda, w;
  {
    NoGradGuard no_grad;
    SymEig eig = symeig_descending(a);
    const double floor = clamp_floor(a.dtype());
    lambda = where(le(eig.values, floor), scalar_tensor(floor, a.dtype()), eig.values);
    v = eig.vectors;
    w = matmul(mul(v, rdiv(sqrt(lambda), 1.0).unsqueeze(1)), v.transpose(1, 2));
  }
  return record_op(name.c_str(), {w}, {a}, {{"eigenvectors", v}, {"eigenvalues", lambda}},
                   [](const std::vector<Tensor>& g, FunctionNode& node) {
                     const Tensor& v = node.saved_tensor("eigenvectors");
                     return std::vector<Tensor>{
                         eig_inverse_backward(v, node.saved_tensor("eigenvalues"), g[0].to(v.dtype()))};
                   })[0];
}

}  // namespace dsvd
