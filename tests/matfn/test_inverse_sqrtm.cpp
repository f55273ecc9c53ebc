// The inverse matrix square root (ops/matfn/inverse_sqrtm.cpp; docs/matrix-functions.md §11):
// forwards against the scalar formula on the eigenvalues, backwards by gradcheck (float64) and
// against each other, the reference's batch-wide scaling of the sign iteration, float32.
#include <cmath>

#include "ops/gradcheck.h"
#include "ops/matfn/fast_sqrt.h"
#include "ops/matfn/inverse_sqrtm.h"
#include "tests/matfn/fast_sqrt_scalars.h"
#include "tests/matfn/matfn_test_util.h"

using namespace dsvd;
using namespace dsvd::test;

namespace {

InverseSqrtOptions with(InverseSqrtMethod m, int iterations = 8) {
  InverseSqrtOptions o;
  o.method = m;
  o.lya_iterations = iterations;
  return o;
}

Tensor inverse_grad(const Tensor& a, const Tensor& g, const InverseSqrtOptions& o) {
  Tensor leaf = a.detach().clone().requires_grad_();
  inverse_sqrtm(leaf, o).backward(g);
  return leaf.grad();
}

double relative(const Tensor& x, const Tensor& y) {
  return std::sqrt(sum(mul(sub(x, y), sub(x, y))).item() / sum(mul(y, y)).item());
}

}  // namespace

TEST_CASE("inverse sqrt: the forwards are the scalar formulas applied to each eigenvalue") {
  const std::vector<double> lambda = {3.0, 1.0, 0.5, 0.2};
  Tensor v = random_orthogonal(4, 17);
  Tensor a = matrix_with_spectrum(v, lambda);
  const double s = spectrum_frobenius_norm(lambda);
  std::vector<double> pade, exact;
  for (double l : lambda) {
    const RationalValue pq = mpa_scalar(1 - l / s);
    pade.push_back(pq.denominator / pq.numerator / std::sqrt(s));  // Q(z)/P(z) ≈ 1/√(1 − z)
    exact.push_back(1 / std::sqrt(l));
  }
  CHECK_CLOSE(inverse_sqrtm(a, with(InverseSqrtMethod::MpaLyaInv)), matrix_with_spectrum(v, pade), 1e-12, 1e-10);
  CHECK_CLOSE(inverse_sqrtm(a, with(InverseSqrtMethod::Eig)), matrix_with_spectrum(v, exact), 1e-12, 1e-10);
  // The approximant is close to the true A^{-1/2} (z = 1 − 0.2/3.2 ≈ 0.94 at the smallest λ).
  CHECK(relative(inverse_sqrtm(a, with(InverseSqrtMethod::MpaLyaInv)), matrix_with_spectrum(v, exact)) < 0.01);
  // W A W = I for the exact one.
  Tensor w = inverse_sqrtm(a, with(InverseSqrtMethod::Eig));
  CHECK_CLOSE(matmul(matmul(w, a), w), eye(4, DType::Float64).unsqueeze(0), 1e-12, 1e-10);
  CHECK_THROWS_WITH_AS(inverse_sqrtm(zeros({2, 3}, DType::Float64)), doctest::Contains("expects square matrices"), Error);
  CHECK_THROWS_WITH_AS(parse_inverse_sqrt_method("newton"), doctest::Contains("mpa-lya-inv, or eig"), Error);
}

TEST_CASE("inverse sqrt: gradchecks (float64) through a symmetric input") {
  // f(X) = inverse_sqrtm((X + Xᵀ)/2): every perturbation of X is a symmetric one of A.
  Generator gen(6);
  auto check = [&](InverseSqrtMethod m, const std::vector<double>& lambda, int iterations) {
    CAPTURE(std::string(inverse_sqrt_method_name(m)));
    const int64_t n = int64_t(lambda.size());
    Tensor a = matrix_with_spectrum(random_orthogonal(n, 23), lambda);
    Tensor weight = randn({1, n, n}, DType::Float64, &gen);
    GradcheckOptions go;
    go.atol = 1e-6;
    go.rtol = 1e-5;
    CHECK_GRADCHECK(Fn([&](auto& in) {
                      Tensor sym = mul(add(in[0], in[0].transpose(1, 2)), 0.5);
                      return sum(mul(inverse_sqrtm(sym, with(m, iterations)), weight));
                    }),
                    {a}, go);
  };
  check(InverseSqrtMethod::Eig, {2.0, 1.3, 0.7, 0.4}, 8);
  check(InverseSqrtMethod::Eig, {1.0, 1.0, 0.5}, 8);  // a tie: F is finite there
  // The backward is the true inverse root's gradient, the differences differentiate the
  // approximant: they agree where it is accurate (z = 1 − λ/‖λ‖ near 0.3).
  check(InverseSqrtMethod::MpaLyaInv, {1.0, 0.9}, 12);
  check(InverseSqrtMethod::MpaLyaInv, {1.0, 0.95, 0.9}, 12);
}

TEST_CASE("inverse sqrt: MPA-Lya-Inv's backward equals the exact gradient as far as its forward is accurate") {
  // The iteration solves the Lyapunov equation at the forward's W, whose Padé error bounds the
  // agreement: ~2e-6 for five eigenvalues (z = 1 − λ/‖λ‖ ≈ 0.5), ~1e-9 for two (z ≈ 0.3).
  Generator gen(3);
  auto error = [&](const std::vector<double>& lambda, int iterations) {
    const int64_t n = int64_t(lambda.size());
    Tensor a = matrix_with_spectrum(random_orthogonal(n, 9), lambda);
    Tensor g = randn({1, n, n}, DType::Float64, &gen);
    return relative(inverse_grad(a, g, with(InverseSqrtMethod::MpaLyaInv, iterations)),
                    inverse_grad(a, g, with(InverseSqrtMethod::Eig)));
  };
  CHECK(error({1.2, 1.0, 0.9, 0.8, 0.7}, 8) < 1e-5);
  CHECK(error({1.0, 0.9}, 8) < 1e-6);
  CHECK(error({1.2, 1.0, 0.9, 0.8, 0.7}, 2) > 1e-3);  // too few iterations
}

TEST_CASE("inverse sqrt: the sign iteration is scaled by the whole batch's ‖W‖_F, as the reference does") {
  // A matrix alone, and the same matrix beside one 100 times smaller (whose W is 10 times larger):
  // the batch's norm then starts the first matrix's B₀ at a tenth of its own scale, so 8
  // iterations leave it further from converged; 30 converge both.
  const std::vector<double> lambda = {1.2, 1.0, 0.8};
  Tensor a = matrix_with_spectrum(random_orthogonal(3, 5), lambda);
  Tensor batch = cat({a, mul(a, 0.01)}, 0);
  Generator gen(4);
  Tensor g = randn({2, 3, 3}, DType::Float64, &gen);
  Tensor exact = inverse_grad(a, g.narrow(0, 0, 1), with(InverseSqrtMethod::Eig));
  auto first = [&](int iterations) {
    return inverse_grad(batch, g, with(InverseSqrtMethod::MpaLyaInv, iterations)).narrow(0, 0, 1);
  };
  const double alone = relative(inverse_grad(a, g.narrow(0, 0, 1), with(InverseSqrtMethod::MpaLyaInv, 8)), exact);
  CHECK(alone < 1e-6);
  CHECK(relative(first(8), exact) > 100 * alone);
  CHECK(relative(first(30), exact) < 1e-6);
}

TEST_CASE("inverse sqrt: float32 runs and agrees with float64") {
  Tensor a = matrix_with_spectrum(random_orthogonal(6, 4), {2.0, 1.5, 1.2, 1.0, 0.8, 0.6});
  Generator gen(8);
  Tensor g = randn({1, 6, 6}, DType::Float64, &gen);
  for (InverseSqrtMethod m : {InverseSqrtMethod::MpaLyaInv, InverseSqrtMethod::Eig}) {
    CAPTURE(std::string(inverse_sqrt_method_name(m)));
    Tensor w32 = inverse_sqrtm(a.to(DType::Float32), with(m));
    CHECK(w32.dtype() == DType::Float32);
    CHECK_CLOSE(w32, inverse_sqrtm(a, with(m)), 1e-5, 1e-4);
    CHECK_CLOSE(inverse_grad(a.to(DType::Float32), g.to(DType::Float32), with(m)), inverse_grad(a, g, with(m)), 1e-4,
                1e-3);
  }
}
