// MTP-Lya and MPA-Lya (ops/matfn/fast_sqrt.cpp, lyapunov.cpp; docs/matrix-functions.md §10): the
// coefficients against the Taylor series of √(1 − z), the forward against the scalar formula on
// the eigenvalues, the Lyapunov backward against the exact (Daleckii–Krein) gradient, gradchecks
// where the forward is accurate, and what a zero eigenvalue does to the sign iteration.
#include <cmath>

#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"
#include "ops/math/fast_sqrt.h"
#include "ops/matfn/fast_sqrt.h"
#include "ops/matfn/lyapunov.h"
#include "tests/matfn/fast_sqrt_scalars.h"
#include "tests/matfn/matfn_test_util.h"

using namespace dsvd;
using namespace dsvd::test;

namespace {

// Taylor coefficients of √(1 − z): t_0 = 1, t_k = t_{k−1}·(k − 3/2)/k.
std::vector<double> sqrt_series(int terms) {
  std::vector<double> t = {1.0};
  for (int k = 1; k < terms; ++k) t.push_back(t.back() * (k - 1.5) / k);
  return t;
}

// d/dt ⟨G, sqrtm(Σ + tE)⟩ by central differences.
double directional(const Tensor& sigma, const Tensor& e, const Tensor& g, const MatrixSqrtOptions& o, double h) {
  NoGradGuard no_grad;
  auto value = [&](double t) { return sum(mul(g, sqrtm(add(sigma, mul(e, t)), o))).item(); };
  return (value(h) - value(-h)) / (2 * h);
}

}  // namespace

TEST_CASE("fast sqrt: MTP's coefficients are √(1 − z)'s Taylor series; MPA's [5/5] matches it to z^10") {
  auto t = sqrt_series(11);
  for (size_t k = 0; k < 11; ++k) CHECK(mtp_coefficients()[k] == t[k]);  // dyadic: exact
  // P − Q·T = O(z^11): the coefficients of Q·T equal P's up to z^5 and vanish from z^6 to z^10.
  const auto& p = mpa_numerator();
  const auto& q = mpa_denominator();
  for (int m = 0; m <= 10; ++m) {
    double c = 0;
    for (int j = 0; j <= std::min(m, 5); ++j) c += q[size_t(j)] * t[size_t(m - j)];
    CHECK(c == doctest::Approx(m <= 5 ? p[size_t(m)] : 0.0).epsilon(1e-15).scale(1e-15));
  }
}

TEST_CASE("fast sqrt: the forward is the scalar formula applied to each eigenvalue") {
  // Σ = V diag(λ) Vᵀ: MTP gives V diag(√s·Σ a_k z_k^k) Vᵀ and MPA V diag(√s·P(z_k)/Q(z_k)) Vᵀ,
  // with s = ‖Σ‖_F = ‖λ‖₂ and z_k = 1 − λ_k/s.
  const std::vector<double> lambda = {3.0, 1.0, 0.5, 0.1};
  Tensor v = random_orthogonal(4, 7);
  Tensor sigma = matrix_with_spectrum(v, lambda);
  const double s = spectrum_frobenius_norm(lambda);
  std::vector<double> mtp, mpa;
  for (double l : lambda) {
    const double z = 1 - l / s;
    const RationalValue pq = mpa_scalar(z);
    mtp.push_back(std::sqrt(s) * mtp_scalar(z));
    mpa.push_back(std::sqrt(s) * pq.numerator / pq.denominator);
  }
  CHECK_CLOSE(mtp_sqrt_forward(sigma).out, matrix_with_spectrum(v, mtp), 1e-12, 1e-10);
  CHECK_CLOSE(mpa_sqrt_forward(sigma).out, matrix_with_spectrum(v, mpa), 1e-12, 1e-10);
  // And both approximate Σ^{1/2}; MPA more closely (here the smallest eigenvalue gives z = 0.97).
  std::vector<double> roots;
  for (double l : lambda) roots.push_back(std::sqrt(l));
  Tensor exact = matrix_with_spectrum(v, roots);
  auto rel = [&](const Tensor& y) { return std::sqrt(sum(mul(sub(y, exact), sub(y, exact))).item() / sum(mul(exact, exact)).item()); };
  CHECK(rel(mpa_sqrt_forward(sigma).out) < rel(mtp_sqrt_forward(sigma).out));
  CHECK(rel(mpa_sqrt_forward(sigma).out) < 0.01);
}

TEST_CASE("fast sqrt: the Lyapunov backward equals the exact gradient of the square root to 1e-6") {
  // Well conditioned: B₀'s eigenvalues √(λ/s) are near 0.7, where the sign iteration converges fast.
  const std::vector<double> lambda = {1.2, 1.0, 0.9, 0.8, 0.7};
  Tensor v = random_orthogonal(5, 9);
  Tensor sigma = matrix_with_spectrum(v, lambda);
  Generator gen(3);
  Tensor g = randn({1, 5, 5}, DType::Float64, &gen);
  Tensor exact = exact_symmetric_gradient(v, lambda, g);  // G_Σ + G_Σᵀ of the true square root
  auto error = [&](const Tensor& gs) {
    return std::sqrt(sum(mul(sub(symmetrised(gs), exact), sub(symmetrised(gs), exact))).item() / sum(mul(exact, exact)).item());
  };
  // The iteration itself, at the true square root: 8 iterations suffice here.
  std::vector<double> roots;
  for (double l : lambda) roots.push_back(std::sqrt(l));
  Tensor root_scale = full({1, 1, 1}, std::sqrt(spectrum_frobenius_norm(lambda)), DType::Float64);
  CHECK(error(lyapunov_sign_iteration(matrix_with_spectrum(v, roots), g, root_scale, 8, 0, false).x) < 1e-12);
  CHECK(error(lyapunov_sign_iteration(matrix_with_spectrum(v, roots), g, root_scale, 3, 0, false).x) > 1e-3);
  // The rules solve it at their own forward's Y: MPA's is accurate to ~1e-8 here, MTP's to ~1e-4.
  CHECK(error(grad_sigma(sigma, g, method(SqrtMethod::MpaLya))) < 1e-6);
  CHECK(error(grad_sigma(sigma, g, method(SqrtMethod::MtpLya))) < 1e-3);
}

TEST_CASE("fast sqrt: gradchecks where the forward is accurate (float64)") {
  Generator gen(5);
  auto check = [&](SqrtMethod m, const std::vector<double>& lambda, double tolerance) {
    CAPTURE(std::string(sqrt_method_name(m)));
    const int64_t n = int64_t(lambda.size());
    Tensor sigma = matrix_with_spectrum(random_orthogonal(n, 21), lambda);
    Tensor g = randn({1, n, n}, DType::Float64, &gen);
    Tensor gs = grad_sigma(sigma, g, method(m));
    for (int k = 0; k < 3; ++k) {
      Tensor a = randn({1, n, n}, DType::Float64, &gen);
      Tensor e = mul(add(a, a.transpose(1, 2)), 0.5);  // symmetric directions
      CHECK(sum(mul(gs, e)).item() == doctest::Approx(directional(sigma, e, g, method(m), 1e-6)).epsilon(tolerance));
    }
  };
  // The backward is the true square root's gradient at the forward's Y, the finite differences
  // differentiate the approximation: they agree as far as the approximation is accurate. n = 2 keeps
  // z = 1 − λ/‖λ‖ near 0.3 (MTP's degree-10 remainder ~1e-8, its derivative ~1e-6).
  check(SqrtMethod::MtpLya, {1.0, 0.9}, 1e-5);
  check(SqrtMethod::MpaLya, {1.0, 0.9}, 1e-6);
  check(SqrtMethod::MpaLya, {1.0, 0.95, 0.9}, 1e-5);
}

TEST_CASE("fast sqrt: ties need no repair; a zero eigenvalue slows the sign iteration") {
  Tensor v = random_orthogonal(4, 3);
  // Exact ties: finite everywhere, nothing repaired.
  Tensor tied = matrix_with_spectrum(v, {1.0, 1.0, 0.8, 0.8});
  Tensor g = ones({1, 4, 4}, DType::Float64);
  for (SqrtMethod m : {SqrtMethod::MtpLya, SqrtMethod::MpaLya}) {
    Tensor gs = grad_sigma(tied, g, method(m));
    for (double x : to_vector(gs)) CHECK(std::isfinite(x));
  }
  // The residual ‖B − I‖_F after the iteration: ~0 for a full-rank Σ. A zero eigenvalue of Σ gets
  // MPA's √0 ≈ √s·P(1)/Q(1) = √s/11, so B₀ starts at about 0.09 there and grows by ~1.5x per
  // iteration before converging: 8 iterations leave ~4e-3. (At the exact root, 0 would be a fixed
  // point of b ↦ b(3 − b²)/2.) The tolerance stop ends early where it converges.
  auto residual = [&](const std::vector<double>& lambda, double tolerance, int* iterations) {
    Tensor sigma = matrix_with_spectrum(v, lambda);
    FastSqrtForward f = mpa_sqrt_forward(sigma);
    LyapunovResult r = lyapunov_sign_iteration(f.out, g, f.root_scale, 8, tolerance, true);
    if (iterations) *iterations = r.iterations;
    return r.residual;
  };
  CHECK(residual({1.0, 0.9, 0.8, 0.7}, 0, nullptr) < 1e-10);
  CHECK(residual({1.0, 0.9, 0.8, 0.0}, 0, nullptr) > 1e-3);
  int iterations = 0;
  CHECK(residual({1.0, 0.9, 0.8, 0.7}, 1e-4, &iterations) < 1e-4);
  CHECK(iterations < 8);
}

TEST_CASE("fast sqrt: float32 runs and agrees with float64") {
  Tensor sigma = matrix_with_spectrum(random_orthogonal(6, 4), {2.0, 1.5, 1.2, 1.0, 0.8, 0.6});
  Generator gen(8);
  Tensor g = randn({1, 6, 6}, DType::Float64, &gen);
  for (SqrtMethod m : {SqrtMethod::MtpLya, SqrtMethod::MpaLya}) {
    CAPTURE(std::string(sqrt_method_name(m)));
    CHECK_CLOSE(sqrtm(sigma.to(DType::Float32), method(m)), sqrtm(sigma, method(m)), 1e-5, 1e-4);
    CHECK_CLOSE(grad_sigma(sigma.to(DType::Float32), g.to(DType::Float32), method(m)), grad_sigma(sigma, g, method(m)),
                1e-4, 1e-3);
  }
}

namespace {

// An independent block for ops/math/fast_sqrt.h's steps: plain loops, and the product computed
// column by column (another order than the CPU kernel's).
struct LoopBlock {
  template <typename F>
  void for_each(int count, F f) {
    for (int e = 0; e < count; ++e) f(e);
  }
  void product(const double* a, const double* b, double* out, int n, double alpha, const double* c, double beta) {
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) {
        double s = 0;
        for (int k = 0; k < n; ++k) s += a[i * n + k] * b[k * n + j];
        out[i * n + j] = alpha * s + (c ? beta * c[i * n + j] : 0.0);
      }
  }
  double sum_of_squares(const double* v, int count) {
    double s = 0;
    for (int e = 0; e < count; ++e) s += v[e] * v[e];
    return s;
  }
  int pivot_row(const double* lhs, int col, int n) {
    int best = col;
    for (int r = col + 1; r < n; ++r)
      if (std::fabs(lhs[r * n + col]) > std::fabs(lhs[best * n + col])) best = r;
    return best;
  }
};

double relative(const Tensor& got, const Tensor& want) {
  Tensor d = sub(got.to(DType::Float64), want.to(DType::Float64));
  return std::sqrt(sum(mul(d, d)).item() / sum(mul(want.to(DType::Float64), want.to(DType::Float64))).item());
}

}  // namespace

// The fused kernels' algorithm (ops/math/fast_sqrt.h, the steps a CUDA thread block runs for one
// matrix) on the CPU's kernels, against the composed ops the CPU runs by default; and its LU
// solve, on a matrix that needs row exchanges, against LAPACK's.
TEST_CASE("fast sqrt: the fused kernels' algorithm gives the composed ops' results") {
  const kernels::PadeCoefficients pade = [] {
    kernels::PadeCoefficients c{};
    for (size_t k = 0; k < 6; ++k) c.p[k] = mpa_numerator()[k], c.q[k] = mpa_denominator()[k];
    return c;
  }();
  kernels::TaylorCoefficients taylor{};
  for (size_t k = 0; k < 11; ++k) taylor.a[k] = mtp_coefficients()[k];
  CHECK_FALSE(fused_fast_sqrt(eye(4, DType::Float64).unsqueeze(0)));  // the CPU keeps the composed ops
  for (int64_t n : {1, 7, 20, 48}) {
    for (DType dt : {DType::Float64, DType::Float32}) {
      CAPTURE(n);
      CAPTURE(dtype_name(dt));
      const double tol = dt == DType::Float64 ? 1e-12 : 2e-5;
      manual_seed(40 + uint64_t(n));
      Tensor x = randn({3, n, 2 * n}, DType::Float64);
      Tensor spd = add(div(matmul(x, x.transpose(1, 2)), double(2 * n)), mul(eye(n, DType::Float64), 0.1)).to(dt);
      Tensor out = empty(spd.sizes(), dt), scale = empty({3, 1, 1}, dt);
      kernels::dispatch<kernels::MpaForwardKernel>(Device::cpu())(spd, pade, false, out, scale);
      FastSqrtForward composed = mpa_sqrt_forward(spd);
      CHECK(relative(out, composed.out) < tol);
      CHECK(relative(scale, composed.root_scale) < tol);
      kernels::dispatch<kernels::MpaForwardKernel>(Device::cpu())(spd, pade, true, out, scale);
      CHECK(relative(out, mpa_inverse_sqrt_forward(spd).out) < tol);
      kernels::dispatch<kernels::MtpForwardKernel>(Device::cpu())(spd, taylor, out, scale);
      CHECK(relative(out, mtp_sqrt_forward(spd).out) < tol);
      // The backward: the sign iteration from the forward's output and a random upstream gradient.
      Tensor g = randn(spd.sizes(), DType::Float64).to(dt);
      Tensor fused = empty(spd.sizes(), dt);
      kernels::dispatch<kernels::LyapunovSignKernel>(Device::cpu())(composed.out, g, composed.root_scale, 8, fused);
      CHECK(relative(fused, lyapunov_sign_iteration(composed.out, g, composed.root_scale, 8, 0, false).x) < tol);
    }
  }
  // Partial pivoting: a zero on the diagonal forces row exchanges at the first two columns.
  const int n = 5;
  Tensor lhs = from_vector({0, 2, 1, 0, 3, /**/ 1, 0, 4, 2, 0, /**/ 3, 1, 0, 5, 1, /**/ 2, 6, 1, 0, 4, /**/ 1, 1, 2, 3, 0},
                           {1, n, n});
  Tensor rhs = from_vector({1, 2, 3, 4, 5, 0, 1, 0, 1, 0, 2, 2, 1, 1, 0, 3, 0, 4, 0, 5, 1, 1, 1, 1, 1}, {1, n, n});
  Tensor l = lhs.clone(), r = rhs.clone(), factors = empty({n}, DType::Float64);
  LoopBlock block;
  math::solve_in_place(block, l.data<double>(), r.data<double>(), factors.data<double>(), n);
  CHECK(relative(r, solve(lhs, rhs)) < 1e-14);
}
