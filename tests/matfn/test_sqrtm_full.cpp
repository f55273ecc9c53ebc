// sqrtm as a full-matrix function: (B, n, n) -> (B, n, n), with a full (not upper-triangular)
// upstream gradient, for every rule, against central differences of its own forward.
#include "tests/matfn/matfn_test_util.h"

using namespace dsvd;
using namespace dsvd::test;

namespace {

// d/dt ⟨G, sqrtm(Σ + tE)⟩ at t = 0 by central differences (float64, no autograd).
double directional_derivative(const Tensor& sigma, const Tensor& e, const Tensor& g, const MatrixSqrtOptions& o,
                              double h) {
  NoGradGuard no_grad;
  auto value = [&](double t) { return sum(mul(g, sqrtm(add(sigma, mul(e, t)), o))).item(); };
  return (value(h) - value(-h)) / (2 * h);
}

Tensor random_symmetric(int64_t batch, int64_t n, uint64_t seed) {
  Generator gen(seed);
  Tensor a = randn({batch, n, n}, DType::Float64, &gen);
  return mul(add(a, a.transpose(1, 2)), 0.5);
}

// Checks ⟨G_Σ, E⟩ against the central difference for three random symmetric directions E, with
// a full random G (B = 2: each sample its own matrix).
void check_full_gradient(SqrtMethod m, const std::vector<double>& spectrum, double tolerance, int drop = 50) {
  CAPTURE(sqrt_method_name(m));
  const int64_t n = int64_t(spectrum.size());
  Tensor sigma = cat({matrix_with_spectrum(random_orthogonal(n, 11), spectrum),
                      matrix_with_spectrum(random_orthogonal(n, 12), spectrum)}, 0);
  Generator gen(5);
  Tensor g = randn({2, n, n}, DType::Float64, &gen);  // full: upper and lower triangle
  MatrixSqrtOptions o = method(m);
  o.topn_drop = drop;
  Tensor leaf = sigma.clone().requires_grad_();
  Tensor q = sqrtm(leaf, o);
  CHECK(q.sizes() == Shape{2, n, n});
  q.backward(g);
  Tensor grad = leaf.grad();
  for (uint64_t seed : {21, 22, 23}) {
    Tensor e = random_symmetric(2, n, seed);
    const double analytic = sum(mul(grad, e)).item();
    const double numeric = directional_derivative(sigma, e, g, o, 1e-6);
    CHECK(analytic == doctest::Approx(numeric).epsilon(tolerance));
  }
}

}  // namespace

TEST_CASE("sqrtm full matrix: gradcheck of every rule where that rule is exact") {
  // Well separated (ratio 1/4): Taylor's r^101 and PI-deflation's (1/4)^20 are below rounding.
  const std::vector<double> separated = {4, 1, 0.25, 0.0625, 0.015625};
  for (SqrtMethod m : {SqrtMethod::Exact, SqrtMethod::Original, SqrtMethod::Trunc, SqrtMethod::Taylor,
                       SqrtMethod::Pade, SqrtMethod::PIDeflation})
    check_full_gradient(m, separated, 1e-7);
  // TopN is Original on modified eigenvalues: exact when nothing is dropped.
  check_full_gradient(SqrtMethod::TopN, separated, 1e-7, /*drop=*/0);
  // Newton: the SVD forward with the Newton–Schulz backward, exact once NS has converged (cond 2.5,
  // 10 iterations). iSQRT: the exact derivative of its own Newton–Schulz forward, at any count.
  const std::vector<double> narrow = {2.5, 2, 1.6, 1.3, 1};
  check_full_gradient(SqrtMethod::Newton, narrow, 1e-7);
  check_full_gradient(SqrtMethod::ISqrt, separated, 1e-7);
  check_full_gradient(SqrtMethod::ISqrt, narrow, 1e-7);
  // "pi" as the reference codes it passes ≈ 0 gradient and is exact nowhere (test_sqrtm.cpp; docs/matrix-functions.md §8 item 9).
}

TEST_CASE("sqrtm full matrix: triu_vec after sqrtm is the vectorised layer, bit for bit, forward and backward") {
  Tensor sigma = matrix_with_spectrum(random_orthogonal(6, 3), {5, 3, 2, 1, 0.5, 0.1});
  Generator gen(8);
  Tensor g_triu = randn({1, 21}, DType::Float64, &gen);
  for (SqrtMethod m : all_sqrt_methods()) {
    CAPTURE(sqrt_method_name(m));
    // The vectorised path, and the full path fed with triu_vec's own backward of the same G.
    Tensor a = sigma.clone().requires_grad_();
    Tensor y = triu_vec(sqrtm(a, method(m)));
    y.backward(g_triu);
    Tensor b = sigma.clone().requires_grad_();
    Tensor q = sqrtm(b, method(m));
    Tensor g_full = zeros({1, 6, 6}, DType::Float64);
    {
      Tensor probe = zeros({1, 6, 6}, DType::Float64).requires_grad_();
      triu_vec(probe).backward(g_triu);
      g_full = probe.grad();
    }
    q.backward(g_full);
    CHECK(to_vector(triu_vec(q.detach())) == to_vector(y.detach()));
    CHECK(to_vector(b.grad()) == to_vector(a.grad()));
  }
}
