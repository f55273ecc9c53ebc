// iSQRT-COV's Newton–Schulz iteration: the forward against the scalar recursion and the table of
// docs/matrix-functions.md §8 item 11, the hand-written backward against autograd through the same iteration (§8 item 12).
#include "ops/matfn/newton_schulz.h"
#include "tests/matfn/matfn_test_util.h"

using namespace dsvd;
using namespace dsvd::test;

namespace {

// φ_N on one eigenvalue a of A = Σ/τ: the same recursion on scalars.
double phi(double a, int n) {
  if (n < 2) return 0.5 * a * (3 - a);
  double t = 0.5 * (3 - a), y = a * t, z = t;
  for (int k = 1; k <= n - 2; ++k) {
    t = 0.5 * (3 - z * y);
    y = y * t;
    z = t * z;
  }
  return 0.5 * y * (3 - z * y);
}

std::vector<double> geometric(int n, double cond) {
  std::vector<double> l;
  for (int i = 0; i < n; ++i) l.push_back(std::pow(cond, -double(i) / (n - 1)));
  return l;
}

MatrixSqrtOptions isqrt_options(int n) {
  MatrixSqrtOptions o = method(SqrtMethod::ISqrt);
  o.isqrt_iterations = n;
  return o;
}

// The iteration written with differentiable ops, so autograd gives the true derivative.
Tensor newton_schulz_by_autograd(const Tensor& sigma, int n_iter) {
  const int64_t n = sigma.size(1);
  Tensor i3 = mul(eye(n, DType::Float64), 3.0);
  Tensor trace = sum(mul(sigma, eye(n, DType::Float64)), {1, 2}, true);
  Tensor a = div(sigma, trace);
  Tensor y_final;
  if (n_iter < 2) {
    y_final = mul(matmul(a, sub(i3, a)), 0.5);
  } else {
    Tensor t = mul(sub(i3, a), 0.5);
    Tensor y = matmul(a, t), z = t;
    for (int k = 1; k <= n_iter - 2; ++k) {
      t = mul(sub(i3, matmul(z, y)), 0.5);
      Tensor y2 = matmul(y, t);
      z = matmul(t, z);
      y = y2;
    }
    y_final = mul(matmul(y, sub(i3, matmul(z, y))), 0.5);
  }
  return mul(y_final, sqrt(trace));
}

}  // namespace

TEST_CASE("Newton–Schulz forward equals the scalar recursion and the table of §8 item 11") {
  Tensor v = random_orthogonal(16, 41);
  struct Row {
    double cond;
    int iterations;
    double error;  // ‖out − Σ^{1/2}‖_F / ‖Σ^{1/2}‖_F
  };
  const Row rows[] = {{10, 3, 0.27},    {10, 5, 0.059},   {10, 10, 4e-16},  {100, 5, 0.093}, {100, 10, 1.6e-5},
                      {100, 20, 7e-16}, {1000, 5, 0.090}, {1000, 10, 3.9e-3}, {1000, 20, 1.3e-15}};
  for (const Row& row : rows) {
    CAPTURE(row.cond);
    CAPTURE(row.iterations);
    std::vector<double> lambda = geometric(16, row.cond);
    Tensor sigma = matrix_with_spectrum(v, lambda);
    Tensor out = sqrtm(sigma, isqrt_options(row.iterations));
    double trace = 0;
    for (double l : lambda) trace += l;
    std::vector<double> predicted, roots;
    for (double l : lambda) {
      predicted.push_back(std::sqrt(trace) * phi(l / trace, row.iterations));
      roots.push_back(std::sqrt(l));
    }
    CHECK_CLOSE(out, matrix_with_spectrum(v, predicted), 1e-13, 1e-12);
    Tensor root = matrix_with_spectrum(v, roots);
    Tensor diff = sub(out, root);
    double error = std::sqrt(sum(mul(diff, diff)).item() / sum(mul(root, root)).item());
    if (row.error > 1e-10) CHECK(error == doctest::Approx(row.error).epsilon(0.05));
    else CHECK(error < 1e-14);
  }
  // The error never increases with N.
  Tensor sigma = matrix_with_spectrum(v, geometric(16, 100));
  double previous = INFINITY;
  for (int n_iter = 1; n_iter <= 20; ++n_iter) {
    Tensor q = sqrtm(sigma, isqrt_options(n_iter));
    Tensor root = sqrtm(sigma, method(SqrtMethod::Exact));
    double e = max_abs(sub(q, root));
    CHECK(e <= previous * (1 + 1e-9) + 1e-15);
    previous = e;
  }
}

TEST_CASE("Newton–Schulz backward is the transpose of autograd's derivative (§8 item 12)") {
  Tensor v = random_orthogonal(6, 42);
  Tensor sigma = matrix_with_spectrum(v, geometric(6, 20));
  Generator gen(43);
  Tensor general = randn({1, 6, 6}, DType::Float64, &gen);
  Tensor upper = triu(general);
  Tensor symmetric = add(general, general.transpose(1, 2));
  for (int n_iter : {1, 2, 3, 5, 10}) {
    for (const Tensor& g : {general, upper, symmetric}) {
      CAPTURE(n_iter);
      Tensor ours = grad_sigma(sigma, g, isqrt_options(n_iter));
      Tensor leaf = sigma.clone().requires_grad_();
      newton_schulz_by_autograd(leaf, n_iter).backward(g);
      Tensor reference = leaf.grad();
      CHECK_CLOSE(ours, reference.transpose(1, 2), 1e-12 * max_abs(reference), 1e-10);
      CHECK_CLOSE(symmetrised(ours), symmetrised(reference), 1e-12 * max_abs(reference), 1e-10);
    }
  }
}

TEST_CASE("SVD-Newton's gradient approaches the exact one as the iteration converges (§8 item 12)") {
  Tensor v = random_orthogonal(16, 44);
  Generator gen(45);
  Tensor g = triu(randn({1, 16, 16}, DType::Float64, &gen));
  auto relative_error = [&](double cond, int n_iter) {
    std::vector<double> lambda = geometric(16, cond);
    Tensor sigma = matrix_with_spectrum(v, lambda);
    MatrixSqrtOptions o = method(SqrtMethod::Newton);
    o.newton_iterations = n_iter;
    Tensor ns = symmetrised(grad_sigma(sigma, g, o));
    Tensor exact = exact_symmetric_gradient(v, lambda, g);
    return max_abs(sub(ns, exact)) / max_abs(exact);
  };
  CHECK(relative_error(10, 10) < 1e-13);
  CHECK(relative_error(100, 20) < 1e-13);
  CHECK(relative_error(1000, 20) < 1e-12);
  CHECK(relative_error(10, 5) > 1e-2);   // 0.2 in the spec's run
  CHECK(relative_error(1000, 10) > 1e-2);  // 0.12 in the spec's run
  CHECK(relative_error(100, 10) < relative_error(100, 5));
}
