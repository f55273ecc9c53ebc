// Covariance pooling (docs/matrix-functions.md §8 item 1) and the eigendecomposition it feeds (§8 item 4's checks).
#include "tests/matfn/matfn_test_util.h"

using namespace dsvd;
using namespace dsvd::test;

TEST_CASE("covariance: symmetric PSD, equal to the centring-matrix form, rank <= M − 1") {
  Generator g(21);
  Tensor x = randn({2, 6, 2, 2}, DType::Float32, &g);  // n = 6 channels, M = 4 positions
  Tensor sigma = covariance_pool(x);
  CHECK(sigma.dtype() == DType::Float64);
  CHECK(sigma.sizes() == Shape{2, 6, 6});
  CHECK_CLOSE(sigma, sigma.transpose(1, 2), 0, 0);
  // Σ = X̂ Ī X̂ᵀ with Ī = I/M − 11ᵀ/M², built explicitly.
  const int64_t m = 4;
  Tensor xhat = x.to(DType::Float64).reshape({2, 6, m});
  Tensor ibar = sub(div(eye(m, DType::Float64), double(m)), full({m, m}, 1.0 / double(m * m), DType::Float64));
  Tensor reference = matmul(matmul(xhat, ibar), xhat.transpose(1, 2));
  CHECK_CLOSE(sigma, reference, 1e-14 * max_abs(reference), 1e-14);
  SymEig eig = symeig_descending(sigma);
  double norm = max_abs(sigma);
  auto values = to_vector(eig.values);
  for (int b = 0; b < 2; ++b) {
    for (int k = 3; k < 6; ++k) CHECK(values[size_t(b * 6 + k)] <= 1e-13 * norm);  // rank <= M − 1 = 3
    CHECK(values[size_t(b * 6 + 2)] > 1e-3);
  }
  // A spatially constant map has zero covariance.
  Tensor constant = mul(ones({1, 3, 4, 4}), 2.5);
  CHECK(max_abs(covariance_pool(constant)) == 0.0);
  CHECK(covariance_pool(x, {DType::Float32}).dtype() == DType::Float32);
  CHECK_THROWS_WITH_AS(covariance_pool(zeros({2, 3})), doctest::Contains("expects features (B, n, H, W)"), Error);
}

TEST_CASE("covariance: backward is (G + Gᵀ) X̄ / M, checked by finite differences") {
  Generator g(22);
  Tensor x = randn({2, 4, 3, 2}, DType::Float64, &g);
  CHECK_GRADCHECK(Fn([](auto& in) { return covariance_pool(in[0]); }), {x});
  // With a non-symmetric upstream gradient, against the closed form.
  Tensor leaf = x.clone().requires_grad_();
  Tensor gs = randn({2, 4, 4}, DType::Float64, &g);
  covariance_pool(leaf).backward(gs);
  Tensor xbar = sub(x.reshape({2, 4, 6}), mean(x.reshape({2, 4, 6}), {2}, true));
  Tensor expected = div(matmul(add(gs, gs.transpose(1, 2)), xbar), 6.0).reshape({2, 4, 3, 2});
  CHECK_CLOSE(leaf.grad(), expected, 1e-14, 1e-12);
  // float32 features get a float32 gradient (computed in float64 inside).
  Tensor f = x.to(DType::Float32).requires_grad_();
  covariance_pool(f).backward(gs);
  CHECK(f.grad().dtype() == DType::Float32);
}

TEST_CASE("covariance: the repair of the features' gradient is counted") {
  Tensor x = from_vector({1, 2, 3, 4, 5, 6}, {1, 2, 3}).requires_grad_();
  auto report = std::make_shared<MatfnReport>();
  CovarianceOptions o;
  o.repair_gradient = true;
  o.report = report;
  Tensor g = from_vector({INFINITY, 0, 0, 1}, {1, 2, 2});
  covariance_pool(x, o).backward(g);
  CHECK(report->repairs.get("grad_features.+inf") + report->repairs.get("grad_features.-inf") +
            report->repairs.get("grad_features.nan") > 0);
  for (double v : to_vector(x.grad())) CHECK(std::isfinite(v));
}

TEST_CASE("symeig: descending |λ|, orthogonal V, small residual ΣV − VΛ, clear errors") {
  Generator g(23);
  Tensor a = randn({3, 12, 12}, DType::Float64, &g);
  Tensor sigma = matmul(a, a.transpose(1, 2));
  for (DType dt : {DType::Float64, DType::Float32}) {
    Tensor s = sigma.to(dt);
    SymEig eig = symeig_descending(s);
    auto v = to_vector(eig.values);
    for (int b = 0; b < 3; ++b)
      for (int k = 1; k < 12; ++k) CHECK(v[size_t(b * 12 + k - 1)] >= v[size_t(b * 12 + k)]);
    double tol = dt == DType::Float64 ? 1e-12 : 1e-4;
    Tensor residual = sub(matmul(s, eig.vectors), mul(eig.vectors, eig.values.unsqueeze(1)));
    CHECK(max_abs(residual) <= tol * max_abs(s));
    Tensor gram = matmul(eig.vectors.transpose(1, 2), eig.vectors);
    CHECK(max_abs(sub(gram, eye(12, dt))) <= (dt == DType::Float64 ? 1e-13 : 1e-5));
  }
  // An indefinite matrix: |w| sorted, V permuted to match (Σ V = V diag(w) with signs).
  Tensor ind = from_vector({1, 0, 0, 0, -3, 0, 0, 0, 2}, {1, 3, 3});
  SymEig e = symeig_descending(ind);
  CHECK_CLOSE(e.values, std::vector<double>{3, 2, 1});
  CHECK(std::fabs(e.vectors.select(0, 0).select(0, 1).select(0, 0).item()) == 1.0);  // λ=3 lives on axis 1
  Tensor bad = from_vector({1, NAN, NAN, 1}, {1, 2, 2});
  CHECK_THROWS_WITH_AS(symeig_descending(bad), doctest::Contains("sample 0 holds NaN or Inf"), Error);
}
