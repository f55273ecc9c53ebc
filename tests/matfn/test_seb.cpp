// The SEB head's rule (ops/matfn/seb.cpp; docs/matrix-functions.md §7): its output against a naive
// computation written from the formula (per sample: the eigendecomposition, then loops), including
// matrices whose Q Sᵀ has exact zeros; its gradient against central differences (float64); its
// repairs at ties.
#include <cmath>

#include "tests/matfn/matfn_test_util.h"

using namespace dsvd;
using namespace dsvd::test;

namespace {

// out = Q + Q ∘ D for one sample, by loops: Q = V diag(√λ) Vᵀ, S = V diag(e^{−λ}) Vᵀ, A = Q Sᵀ,
// D_ij = ‖A‖_F / (A_ij / ‖A‖_F) · A_ij / ‖A‖_F ... written as the reference computes it:
// n̂ = A / ‖A‖_F, D = A / n̂ element by element (0/0 = NaN).
std::vector<double> naive_seb(const Tensor& sigma) {
  const int64_t n = sigma.size(1);
  SymEig eig = symeig_descending(sigma);
  auto w = to_vector(eig.values), vv = to_vector(eig.vectors);
  auto v = [&](int64_t i, int64_t k) { return vv[size_t(i * n + k)]; };
  const double floor = std::ldexp(1.0, -52);
  const size_t count = size_t(n * n);
  std::vector<double> lambda(static_cast<size_t>(n)), q(count), s(count), a(count, 0.0), out(count);
  for (int64_t k = 0; k < n; ++k) lambda[size_t(k)] = w[size_t(k)] <= floor ? floor : w[size_t(k)];
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double qs = 0, ss = 0;
      for (int64_t k = 0; k < n; ++k) {
        qs += v(i, k) * std::sqrt(lambda[size_t(k)]) * v(j, k);
        ss += v(i, k) * std::exp(-lambda[size_t(k)]) * v(j, k);
      }
      q[size_t(i * n + j)] = qs;
      s[size_t(i * n + j)] = ss;
    }
  double norm = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t k = 0; k < n; ++k) a[size_t(i * n + j)] += q[size_t(i * n + k)] * s[size_t(j * n + k)];  // Q Sᵀ
      norm += a[size_t(i * n + j)] * a[size_t(i * n + j)];
    }
  norm = std::max(std::sqrt(norm), 1e-12);
  for (size_t e = 0; e < out.size(); ++e) {
    const double normalised = a[e] / norm;
    out[e] = q[e] + q[e] * (a[e] / normalised);
  }
  return out;
}

void check_against_naive(const Tensor& sigma) {
  Tensor out = sqrtm(sigma, method(SqrtMethod::Seb));
  auto got = to_vector(out);
  auto expected = naive_seb(sigma);
  REQUIRE(got.size() == expected.size());
  for (size_t e = 0; e < got.size(); ++e) {
    CAPTURE(e);
    if (std::isnan(expected[e])) {
      CHECK(std::isnan(got[e]));
    } else {
      CHECK(got[e] == doctest::Approx(expected[e]).epsilon(1e-12).scale(1e-12));
    }
  }
}

}  // namespace

TEST_CASE("seb: the output is the reference's formula, computed naively, including zero entries of Q Sᵀ") {
  // A general covariance: no zero in Q Sᵀ.
  check_against_naive(matrix_with_spectrum(random_orthogonal(5, 31), {2.0, 1.1, 0.6, 0.3, 0.05}));
  // A diagonal one: Q Sᵀ is diagonal, so every off-diagonal entry is 0/0 = NaN in the reference's
  // element-wise division, and NaN in the output.
  Tensor diagonal = diag_embed(from_vector({3.0, 2.0, 1.0}, {1, 3}));
  check_against_naive(diagonal);
  auto out = to_vector(sqrtm(diagonal, method(SqrtMethod::Seb)));
  CHECK(std::isnan(out[1]));
  CHECK_FALSE(std::isnan(out[0]));
  // Block diagonal: zeros only between the blocks.
  Tensor block = zeros({1, 3, 3}, DType::Float64);
  for (auto [i, j, x] : std::vector<std::tuple<int, int, double>>{{0, 0, 2.0}, {0, 1, 0.5}, {1, 0, 0.5}, {1, 1, 1.0},
                                                                  {2, 2, 0.7}})
    block.data<double>()[i * 3 + j] = x;
  check_against_naive(block);
  // Without zeros, D is ‖Q Sᵀ‖_F everywhere: out = Q·(1 + ‖A‖_F), ‖A‖_F² = Σ λ e^{−2λ}.
  const std::vector<double> lambda = {1.5, 0.8, 0.2};
  Tensor v = random_orthogonal(3, 4);
  double norm = 0;
  std::vector<double> roots;
  for (double l : lambda) norm += l * std::exp(-2 * l), roots.push_back(std::sqrt(l));
  CHECK_CLOSE(sqrtm(matrix_with_spectrum(v, lambda), method(SqrtMethod::Seb)),
              mul(matrix_with_spectrum(v, roots), 1 + std::sqrt(norm)), 1e-12, 1e-10);
}

TEST_CASE("seb: the gradient along symmetric directions matches central differences (float64)") {
  Generator gen(12);
  const std::vector<double> lambda = {2.0, 1.2, 0.7, 0.3};
  Tensor sigma = matrix_with_spectrum(random_orthogonal(4, 19), lambda);
  Tensor g = randn({1, 4, 4}, DType::Float64, &gen);
  Tensor gs = grad_sigma(sigma, g, method(SqrtMethod::Seb));
  NoGradGuard no_grad;
  for (int k = 0; k < 4; ++k) {
    Tensor a = randn({1, 4, 4}, DType::Float64, &gen);
    Tensor e = mul(add(a, a.transpose(1, 2)), 0.5);
    auto value = [&](double t) { return sum(mul(g, sqrtm(add(sigma, mul(e, t)), method(SqrtMethod::Seb)))).item(); };
    const double h = 1e-6, numeric = (value(h) - value(-h)) / (2 * h);
    CHECK(sum(mul(gs, e)).item() == doctest::Approx(numeric).epsilon(1e-6));
  }
}

TEST_CASE("seb: ties are repaired as Original repairs them, batch-wide") {
  // Two samples; the first has rank 2 and a small scale, so its two null eigenvalues (rounding
  // noise ~1e-18) sit at the floor ε, tied: K̃ holds +inf there, and the repair puts the batch's
  // largest finite entry in their place, 1/(the smallest gap over both samples) = 1/10⁻⁴, from
  // the second sample (the first's own largest is 1/0.01).
  Tensor sigma = cat({matrix_with_spectrum(random_orthogonal(4, 2), {0.02, 0.01, 0.0, 0.0}),
                      matrix_with_spectrum(random_orthogonal(4, 3), {1.5, 1.4999, 0.6, 0.2})},
                     0);
  MatrixSqrtOptions o = method(SqrtMethod::Seb);
  o.report = std::make_shared<MatfnReport>();
  Generator gen(2);
  Tensor gs = grad_sigma(sigma, randn({2, 4, 4}, DType::Float64, &gen), o);
  for (double x : to_vector(gs)) CHECK(std::isfinite(x));
  CHECK(o.report->repairs.get("K.+inf") == 2);
  CHECK(o.report->max_abs_k() == doctest::Approx(1e4).epsilon(1e-6));
}
