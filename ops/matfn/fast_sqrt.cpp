#include "ops/matfn/fast_sqrt.h"

#include <cstdlib>
#include <string>

#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"
#include "ops/ops.h"

namespace dsvd {
namespace {

struct Scaled {
  Tensor z;           // I − A/s
  Tensor root_scale;  // √s
};

Scaled normalised(const Tensor& a) {
  DSVD_CHECK(a.dim() == 3 && a.size(1) == a.size(2), "fast square root: expects (B, n, n), got shape ",
             shape_str(a.sizes()));
  Tensor s = sqrt(sum(mul(a, a), {1, 2}, true));  // ‖A‖_F, (B, 1, 1)
  return {sub(eye(a.size(1), a.dtype(), a.device()), div(a, s)), sqrt(s)};
}

// Σ c_k Z^k by Horner's scheme: R = c_K I; R = R·Z + c_k I for k = K−1..0.
template <size_t N>
Tensor matrix_polynomial(const Tensor& z, const std::array<double, N>& c) {
  Tensor identity = eye(z.size(1), z.dtype(), z.device());
  Tensor r = mul(identity, c[N - 1]).expand(z.sizes()).contiguous();
  for (size_t k = N - 1; k-- > 0;) r = add(matmul(r, z), mul(identity, c[k]));
  return r;
}

}  // namespace

const std::array<double, 11>& mtp_coefficients() {
  static const std::array<double, 11> a = {1.0,           -1.0 / 2,        -1.0 / 8,       -1.0 / 16,
                                           -5.0 / 128,    -7.0 / 256,      -21.0 / 1024,   -33.0 / 2048,
                                           -429.0 / 32768, -715.0 / 65536, -2431.0 / 262144};
  return a;
}

const std::array<double, 6>& mpa_numerator() {
  static const std::array<double, 6> p = {1.0, -11.0 / 4, 11.0 / 4, -77.0 / 64, 55.0 / 256, -11.0 / 1024};
  return p;
}

const std::array<double, 6>& mpa_denominator() {
  static const std::array<double, 6> q = {1.0, -9.0 / 4, 7.0 / 4, -35.0 / 64, 15.0 / 256, -1.0 / 1024};
  return q;
}

bool fused_fast_sqrt(const Tensor& t) {
  const char* env = std::getenv("DSVD_FUSED_FAST_SQRT");
  if (env && std::string(env) == "0") return false;
  // The CPU has the kernels too, as the reference of the fused algorithm, but its composed ops run
  // their products on BLAS, faster than one thread's loops: it keeps them.
  const Device::Kind kind = t.device().kind;
  if (kind == Device::Kind::CPU) return false;
  return t.dim() == 3 && t.size(1) == t.size(2) && kernels::fused_sqrt_fits(t.size(1), t.dtype()) &&
         kernels::has_kernel<kernels::MtpForwardKernel>(kind) && kernels::has_kernel<kernels::MpaForwardKernel>(kind) &&
         kernels::has_kernel<kernels::LyapunovSignKernel>(kind);
}

namespace {

// MTP's whole forward in one kernel (fused_fast_sqrt).
FastSqrtForward mtp_fused(const Tensor& a) {
  kernels::TaylorCoefficients c{};
  for (size_t k = 0; k < 11; ++k) c.a[k] = mtp_coefficients()[k];
  FastSqrtForward f{empty(a.sizes(), a.dtype(), a.device()), empty({a.size(0), 1, 1}, a.dtype(), a.device())};
  kernels::dispatch<kernels::MtpForwardKernel>(a.device())(detail::contiguous_raw(a), c, f.out, f.root_scale);
  return f;
}

// MPA's whole forward in one kernel (fused_fast_sqrt).
FastSqrtForward mpa_fused(const Tensor& a, bool inverse) {
  kernels::PadeCoefficients c{};
  for (size_t k = 0; k < 6; ++k) c.p[k] = mpa_numerator()[k], c.q[k] = mpa_denominator()[k];
  FastSqrtForward f{empty(a.sizes(), a.dtype(), a.device()), empty({a.size(0), 1, 1}, a.dtype(), a.device())};
  kernels::dispatch<kernels::MpaForwardKernel>(a.device())(detail::contiguous_raw(a), c, inverse, f.out, f.root_scale);
  return f;
}

}  // namespace

FastSqrtForward mtp_sqrt_forward(const Tensor& a) {
  if (fused_fast_sqrt(a)) return mtp_fused(a);
  Scaled sc = normalised(a);
  return {mul(matrix_polynomial(sc.z, mtp_coefficients()), sc.root_scale), sc.root_scale};
}

FastSqrtForward mpa_sqrt_forward(const Tensor& a) {
  if (fused_fast_sqrt(a)) return mpa_fused(a, false);
  Scaled sc = normalised(a);
  // P and Q are polynomials in Z, so they commute and Q⁻¹P = P Q⁻¹: one solve Q X = P.
  Tensor x = solve(matrix_polynomial(sc.z, mpa_denominator()), matrix_polynomial(sc.z, mpa_numerator()));
  return {mul(x, sc.root_scale), sc.root_scale};
}

FastSqrtForward mpa_inverse_sqrt_forward(const Tensor& a) {
  if (fused_fast_sqrt(a)) return mpa_fused(a, true);
  Scaled sc = normalised(a);
  // 1/√(1 − z) ≈ Q(z)/P(z): one solve P X = Q.
  Tensor x = solve(matrix_polynomial(sc.z, mpa_numerator()), matrix_polynomial(sc.z, mpa_denominator()));
  return {div(x, sc.root_scale), sc.root_scale};
}

}  // namespace dsvd
