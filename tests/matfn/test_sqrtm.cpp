// The SVD square-root layer and its rules: docs/matrix-functions.md §8 items 3, 5, 6, 9, 10, 13, whole-layer gradchecks,
// ties and rank-deficient inputs for every rule, and PI with deflation against literal power
// iterations.
#include "tests/matfn/matfn_test_util.h"

using namespace dsvd;
using namespace dsvd::test;

namespace {

const SqrtMethod kKRules[] = {SqrtMethod::Original, SqrtMethod::Pade, SqrtMethod::Trunc, SqrtMethod::Taylor};

// Upper-triangular ones, (1, n, n): the gradient that triu_vec's backward produces from ones.
Tensor upper_ones(int64_t n) { return triu(ones({1, n, n}, DType::Float64)); }

}  // namespace

TEST_CASE("sqrtm: forward values (§8 item 3)") {
  // Σ = diag(4, 1, 0.25) -> y = [2, 0, 0, 1, 0, 0.5].
  Tensor sigma = from_vector({4, 0, 0, 0, 1, 0, 0, 0, 0.25}, {1, 3, 3});
  for (SqrtMethod m : all_sqrt_methods()) {
    if (!uses_eigendecomposition(m) || !is_square_root(m) || m == SqrtMethod::TopN) continue;
    std::string rule = sqrt_method_name(m);
    CAPTURE(rule);
    CHECK_CLOSE(triu_vec(sqrtm(sigma, method(m))), std::vector<double>{2, 0, 0, 1, 0, 0.5}, 1e-15, 1e-15);
  }
  // Full rank: Q = Qᵀ, Q·Q = Σ to 1e-12, eigenvalues of Q are √λ.
  Tensor v = random_orthogonal(8, 31);
  std::vector<double> lambda = {9, 5, 3, 2, 1, 0.5, 0.2, 0.01};
  Tensor s = matrix_with_spectrum(v, lambda);
  Tensor q = sqrtm(s);
  CHECK_CLOSE(q, q.transpose(1, 2), 1e-14, 0);
  CHECK(max_abs(sub(matmul(q, q), s)) / max_abs(s) < 1e-12);
  auto qv = to_vector(symeig_descending(q).values);
  for (size_t i = 0; i < lambda.size(); ++i) CHECK(qv[i] == doctest::Approx(std::sqrt(lambda[i])).epsilon(1e-12));
  // Against an independent construction: V diag(√λ) Vᵀ with the V we chose.
  std::vector<double> roots;
  for (double l : lambda) roots.push_back(std::sqrt(l));
  CHECK_CLOSE(q, matrix_with_spectrum(v, roots), 1e-13, 1e-12);
  // Null eigenvalues: Q·Q = Σ plus eps64 on the null space.
  Tensor null_space = matrix_with_spectrum(v, {4, 1, 0, 0, 0, 0, 0, 0});
  Tensor qn = sqrtm(null_space);
  Tensor expected = matrix_with_spectrum(v, {4, 1, kEps64, kEps64, kEps64, kEps64, kEps64, kEps64});
  CHECK(max_abs(sub(matmul(qn, qn), expected)) < 1e-14);
}

TEST_CASE("vectorisation: a symmetric matrix survives triu_vec and back (§8 item 2)") {
  Tensor v = random_orthogonal(5, 30);
  Tensor product = matrix_with_spectrum(v, {5, 4, 3, 2, 1});
  Tensor s = mul(add(product, product.transpose(1, 2)), 0.5);  // exactly symmetric
  Tensor upper = triu_unvec(triu_vec(s), 5);
  Tensor rebuilt = add(upper, sub(upper.transpose(1, 2), diag_embed(diag(upper.select(0, 0)).unsqueeze(0))));
  CHECK(to_vector(rebuilt) == to_vector(s));
  // The backward scatters into the upper triangle only.
  Tensor leaf = s.clone().requires_grad_();
  triu_vec(leaf).backward(ones({1, 15}, DType::Float64));
  CHECK_CLOSE(leaf.grad(), triu(ones({1, 5, 5}, DType::Float64)), 0, 0);
}

TEST_CASE("sqrtm: TopN keeps n − 50; with n <= 50 every direction gets √eps64 (§8 item 10)") {
  Tensor v = random_orthogonal(10, 32);
  Tensor sigma = matrix_with_spectrum(v, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0.5});
  Tensor y = triu_vec(sqrtm(sigma, method(SqrtMethod::TopN)));
  auto values = to_vector(y);
  int index = 0;
  for (int i = 0; i < 10; ++i)
    for (int j = i; j < 10; ++j, ++index) {
      if (i == j) CHECK(values[size_t(index)] == doctest::Approx(1.4901161193847656e-08).epsilon(1e-12));
      else CHECK(std::fabs(values[size_t(index)]) <= 1e-22);
    }
  MatrixSqrtOptions keep8 = method(SqrtMethod::TopN);
  keep8.topn_drop = 2;
  auto report = std::make_shared<MatfnReport>();
  keep8.report = report;
  sqrtm(sigma, keep8);
  auto l = to_vector(report->eigenvalues);
  CHECK(l[7] == doctest::Approx(2.0).epsilon(1e-12));
  CHECK(l[8] == kEps64);
  CHECK(l[9] == kEps64);
}

TEST_CASE("sqrtm: the exact gradient at Σ = diag(4, 1, 0.25) (§8 item 5)") {
  Tensor sigma = from_vector({4, 0, 0, 0, 1, 0, 0, 0, 0.25}, {1, 3, 3});
  Tensor g = upper_ones(3);
  std::vector<double> raw = {0.25, -1.0 / 3, -2.0 / 15, 2.0 / 3, 0.5, -2.0 / 3, 8.0 / 15, 4.0 / 3, 1.0};
  std::vector<double> sym = {0.5, 1.0 / 3, 0.4, 1.0 / 3, 1, 2.0 / 3, 0.4, 2.0 / 3, 2};
  for (SqrtMethod m : kKRules) {
    std::string rule = sqrt_method_name(m);
    CAPTURE(rule);
    Tensor gs = grad_sigma(sigma, g, method(m));
    CHECK_CLOSE(gs, raw, 1e-14, 1e-13);
    CHECK_CLOSE(symmetrised(gs), sym, 1e-14, 1e-13);
  }
  for (SqrtMethod m : {SqrtMethod::Exact, SqrtMethod::PIDeflation}) {
    std::string rule = sqrt_method_name(m);
    CAPTURE(rule);
    MatrixSqrtOptions o = method(m);
    o.pi_iterations = 200;  // pi-deflation: r <= 0.25, so 200 terms converge to float64
    CHECK_CLOSE(symmetrised(grad_sigma(sigma, g, o)), sym, 1e-14, 1e-13);
  }
}

TEST_CASE("sqrtm: for distinct eigenvalues, G_Σ + G_Σᵀ = V [S ∘ 1/(√λi+√λj)] Vᵀ (§8 item 5)") {
  Tensor v = random_orthogonal(6, 33);
  std::vector<double> lambda = {8, 4, 2, 1, 0.5, 0.25};  // ratios <= 0.5: Taylor converged too
  Tensor sigma = matrix_with_spectrum(v, lambda);
  Generator gen(34);
  Tensor g = triu(randn({1, 6, 6}, DType::Float64, &gen));
  Tensor exact = exact_symmetric_gradient(v, lambda, g);
  for (SqrtMethod m : {SqrtMethod::Original, SqrtMethod::Pade, SqrtMethod::Trunc, SqrtMethod::Taylor, SqrtMethod::Exact}) {
    std::string rule = sqrt_method_name(m);
    CAPTURE(rule);
    CHECK_CLOSE(symmetrised(grad_sigma(sigma, g, method(m))), exact, 1e-12, 1e-12);
  }
  MatrixSqrtOptions pd = method(SqrtMethod::PIDeflation);
  pd.pi_iterations = 100;  // r <= 0.5: 0.5^100 is below rounding
  CHECK_CLOSE(symmetrised(grad_sigma(sigma, g, pd)), exact, 1e-12, 1e-12);
}

TEST_CASE("sqrtm: near-equal eigenvalues, entry (0,1) of G_Σ + G_Σᵀ (§8 item 6)") {
  Tensor rot = from_vector({0.6, 0.8, -0.8, 0.6}, {2, 2});
  Tensor g = from_vector({1, 0, 0, 0}, {1, 2, 2});  // gradient 1 on y_0 = Q00 only
  struct Row {
    double lambda2, exact, original, pade, taylor;
  };
  const Row rows[] = {
      {0.5, 0.104187011926903, 0.104187011927, 0.104187011927, 0.104187011927},
      {0.9, 0.0130779375610231, 0.013077937561, 0.013077937561, 0.0130812350356},
      {0.99, 0.00120992627357433, 0.00120992627356, 0.00120992627269, 0.0500350950887},
      {0.999, 0.000120098485576720, 0.000120098485695, 0.000120098485695, 0.121632944803},
      {0.9999, 1.20009840855077e-05, 1.20009826787e-05, 1.20009844977e-05, 0.13306465224},
  };
  for (const Row& row : rows) {
    CAPTURE(row.lambda2);
    Tensor sigma = matrix_with_spectrum(rot, {1.0, row.lambda2});
    auto entry = [&](SqrtMethod m) { return symmetrised(grad_sigma(sigma, g, method(m))).select(0, 0).select(0, 0).select(0, 1).item(); };
    // A correct float64 rule agrees with the 40-digit value to ~eps64/gap relative.
    double tol = row.lambda2 <= 0.9 ? 1e-9 : row.lambda2 <= 0.99 ? 1e-8 : 1e-6;
    for (SqrtMethod m : {SqrtMethod::Original, SqrtMethod::Trunc, SqrtMethod::Pade, SqrtMethod::Exact})
      CHECK(entry(m) == doctest::Approx(row.exact).epsilon(tol));
    // The reference's own printed values (12 significant digits), same tolerance class.
    CHECK(entry(SqrtMethod::Original) == doctest::Approx(row.original).epsilon(tol));
    CHECK(entry(SqrtMethod::Pade) == doctest::Approx(row.pade).epsilon(tol));
    // Taylor is off by r^101/(1−r): reproduced to the printed digits.
    CHECK(entry(SqrtMethod::Taylor) == doctest::Approx(row.taylor).epsilon(1e-6));
  }
}

TEST_CASE("sqrtm: whole-layer gradcheck of covariance -> rule -> vectorisation in float64") {
  Generator gen(35);
  // n = 6 channels, M = 64 positions: distinct eigenvalues, condition number of a few units. Taylor
  // is left out: random spectra have pairs with λmin/λmax near 1, where its truncation error
  // r^101/(1−r) is real (it is checked on spectra with small ratios above).
  Tensor x = randn({2, 6, 8, 8}, DType::Float64, &gen);
  for (SqrtMethod m : {SqrtMethod::Original, SqrtMethod::Pade, SqrtMethod::Trunc, SqrtMethod::Exact, SqrtMethod::Newton}) {
    std::string rule = sqrt_method_name(m);
    CAPTURE(rule);
    MatrixSqrtOptions o = method(m);
    auto f = [o](const std::vector<Tensor>& in) {
      CovarianceOptions c;
      c.repair_gradient = repairs_feature_gradient(o.method);
      return triu_vec(sqrtm(covariance_pool(in[0], c), o));
    };
    GradcheckOptions tol;
    tol.atol = 1e-7;
    tol.rtol = 1e-5;
    CHECK_GRADCHECK(Fn(f), {x}, tol);
  }
  // iSQRT-COV's gradient is that of its own (approximate) forward: exact for it at any N.
  for (int n_iter : {1, 2, 3, 5}) {
    MatrixSqrtOptions o = method(SqrtMethod::ISqrt);
    o.isqrt_iterations = n_iter;
    CHECK_GRADCHECK(Fn([o](auto& in) { return triu_vec(sqrtm(covariance_pool(in[0]), o)); }), {x});
  }
}

TEST_CASE("sqrtm: PI passes almost no gradient, as the reference does (§8 item 9)") {
  Generator gen(36);
  Tensor x = randn({2, 16, 4, 4}, DType::Float64, &gen);
  Tensor upstream = randn({2, 16 * 17 / 2}, DType::Float32, &gen);
  auto feature_grad = [&](SqrtMethod m) {
    Tensor leaf = x.clone().requires_grad_();
    covariance_sqrt_pooling(leaf, {method(m)}).backward(upstream);
    return leaf.grad();
  };
  double pi = max_abs(feature_grad(SqrtMethod::PI));
  double original = max_abs(feature_grad(SqrtMethod::Original));
  CHECK(original > 1e-3);
  CHECK(pi <= 1e-12 * original);
  // I − V Vᵀ at n = 256 is rounding noise.
  Tensor a = randn({1, 256, 256}, DType::Float64, &gen);
  Tensor vv = symeig_descending(matmul(a, a.transpose(1, 2))).vectors;
  CHECK(max_abs(sub(eye(256, DType::Float64), matmul(vv, vv.transpose(1, 2)))) <= 1e-13);
}

TEST_CASE("sqrtm: ties and rank-deficient covariances give finite gradients with the implied repairs") {
  // n = 8 channels, M = 4 positions: rank <= 3, so 5 eigenvalues clamp to eps64 and tie:
  // 5·4 = 20 tied (i, j) entries of K̃ per sample.
  Generator gen(37);
  // Small features (Σ ~ 1e-2) so the null eigenvalues' rounding noise stays below eps64.
  Tensor x = mul(randn({2, 8, 2, 2}, DType::Float32, &gen), 0.1);
  Tensor upstream = randn({2, 36}, DType::Float32, &gen);
  for (SqrtMethod m : all_sqrt_methods()) {
    std::string rule = sqrt_method_name(m);
    CAPTURE(rule);
    auto report = std::make_shared<MatfnReport>();
    MatrixSqrtOptions o = method(m);
    o.report = report;
    Tensor leaf = x.clone().requires_grad_();
    Tensor y = covariance_sqrt_pooling(leaf, {o});
    CHECK(y.dtype() == DType::Float32);  // §8 item 13
    y.backward(upstream);
    CHECK(leaf.grad().dtype() == DType::Float32);
    for (double e : to_vector(leaf.grad())) REQUIRE(std::isfinite(e));
    if (m == SqrtMethod::Original || m == SqrtMethod::TopN) {
      CHECK(report->repairs.get("K.+inf") == (m == SqrtMethod::Original ? 2 * 20 : 2 * 8 * 7));
      CHECK(report->repairs.get("K.-inf") == 0);
    }
    if (m == SqrtMethod::Pade) {
      CHECK(report->repairs.get("K.-inf") == 2 * 20);
      CHECK(report->repairs.get("K.+inf") == 0);
    }
    if (m == SqrtMethod::Trunc || m == SqrtMethod::Taylor) CHECK(report->repairs.get("K.+inf") == 0);
    if (uses_eigendecomposition(m)) {
      auto l = to_vector(report->eigenvalues);
      int clamped = 0;
      for (double e : l) clamped += e == kEps64;
      CHECK(clamped == (m == SqrtMethod::TopN ? 16 : 10));
    }
  }
  // The identity: every eigenvalue tied. Exact gives the closed form G_Σ + G_Σᵀ = (G + Gᵀ)/2.
  Tensor identity = eye(4, DType::Float64).unsqueeze(0);
  Tensor g = triu(randn({1, 4, 4}, DType::Float64, &gen));
  CHECK_CLOSE(symmetrised(grad_sigma(identity, g, method(SqrtMethod::Exact))), mul(symmetrised(g), 0.5), 1e-14, 1e-14);
  // (Not seb: for Σ = I its Q Sᵀ is diagonal, and the reference's 0/0 makes the off-diagonal NaN,
  // as tests/matfn/test_seb.cpp checks.)
  for (SqrtMethod m : all_sqrt_methods())
    if (m != SqrtMethod::Seb)
      for (double e : to_vector(grad_sigma(identity, g, method(m)))) REQUIRE(std::isfinite(e));
}

TEST_CASE("sqrtm: PI with deflation equals literal per-eigenvector power iterations") {
  // The literal method: eigenvector k is the fixed point of T iterations v <- M_k v/‖M_k v‖ on
  // M_k = Σ − Σ_{i<k} λ_i v_i v_iᵀ. Back-propagate through the T iterations (at the fixed point)
  // and through the deflation, one eigenvector at a time, with plain loops.
  const int n = 4, T = 7;
  Tensor v = random_orthogonal(n, 38);
  std::vector<double> lambda = {4, 2.5, 1, 0.3};
  Tensor sigma = matrix_with_spectrum(v, lambda);
  Generator gen(39);
  Tensor g = randn({1, n, n}, DType::Float64, &gen);

  MatrixSqrtOptions o = method(SqrtMethod::PIDeflation);
  o.pi_iterations = T;
  Tensor ours = grad_sigma(sigma, g, o);

  // Literal reference, using the decomposition the layer uses.
  SymEig eig = symeig_descending(sigma);
  auto V = to_vector(eig.vectors.select(0, 0));
  auto L = to_vector(eig.values.select(0, 0));
  auto G = to_vector(g.select(0, 0));
  auto vec = [&](int k) { std::vector<double> c(n); for (int r = 0; r < n; ++r) c[size_t(r)] = V[size_t(r * n + k)]; return c; };
  // g_V = (G + Gᵀ) V diag(√λ), g_λ = ½ λ^{-1/2} dg(Vᵀ G V)
  std::vector<std::vector<double>> gv(n, std::vector<double>(n, 0.0));
  std::vector<double> glambda(n, 0.0);
  for (int k = 0; k < n; ++k) {
    auto vk = vec(k);
    for (int r = 0; r < n; ++r)
      for (int c = 0; c < n; ++c) gv[size_t(k)][size_t(r)] += (G[size_t(r * n + c)] + G[size_t(c * n + r)]) * vk[size_t(c)] * std::sqrt(L[size_t(k)]);
    double d = 0;
    for (int r = 0; r < n; ++r)
      for (int c = 0; c < n; ++c) d += vk[size_t(r)] * G[size_t(r * n + c)] * vk[size_t(c)];
    glambda[size_t(k)] = 0.5 * d / std::sqrt(L[size_t(k)]);
  }
  std::vector<double> dsigma(size_t(n * n), 0.0);
  for (int k = n - 1; k >= 0; --k) {
    // M_k, deflated.
    std::vector<double> M(size_t(n * n));
    auto S = to_vector(sigma.select(0, 0));
    for (int r = 0; r < n; ++r)
      for (int c = 0; c < n; ++c) {
        double m = S[size_t(r * n + c)];
        for (int i = 0; i < k; ++i) m -= L[size_t(i)] * V[size_t(r * n + i)] * V[size_t(c * n + i)];
        M[size_t(r * n + c)] = m;
      }
    auto vk = vec(k);
    // Backward through T steps v_{t+1} = M v_t / ‖M v_t‖ at the fixed point v_t = v_k, ‖M v_k‖ = λ_k:
    // ∂L/∂M += (I − v vᵀ) u vᵀ / λ_k with u the gradient of v_{t+1}; the gradient of v_t is
    // Mᵀ (I − v vᵀ) u / λ_k.
    std::vector<double> u = gv[size_t(k)];
    std::vector<double> dm(size_t(n * n), 0.0);
    for (int t = 0; t < T; ++t) {
      double proj = 0;
      for (int r = 0; r < n; ++r) proj += vk[size_t(r)] * u[size_t(r)];
      std::vector<double> pu(n);
      for (int r = 0; r < n; ++r) pu[size_t(r)] = (u[size_t(r)] - proj * vk[size_t(r)]) / L[size_t(k)];
      for (int r = 0; r < n; ++r)
        for (int c = 0; c < n; ++c) dm[size_t(r * n + c)] += pu[size_t(r)] * vk[size_t(c)];
      std::vector<double> next(n, 0.0);
      for (int r = 0; r < n; ++r)
        for (int c = 0; c < n; ++c) next[size_t(r)] += M[size_t(c * n + r)] * pu[size_t(c)];
      u = next;
    }
    for (size_t e = 0; e < dm.size(); ++e) dsigma[e] += dm[e];
    // Through the deflation: M_k contains −λ_i v_i v_iᵀ for i < k.
    for (int i = 0; i < k; ++i) {
      auto vi = vec(i);
      for (int r = 0; r < n; ++r) {
        double s = 0;
        for (int c = 0; c < n; ++c) s += (dm[size_t(r * n + c)] + dm[size_t(c * n + r)]) * vi[size_t(c)];
        gv[size_t(i)][size_t(r)] += -L[size_t(i)] * s;
      }
    }
  }
  // The eigenvalue gradient (Rayleigh quotient λ_k = v_kᵀ Σ v_k).
  for (int k = 0; k < n; ++k) {
    auto vk = vec(k);
    for (int r = 0; r < n; ++r)
      for (int c = 0; c < n; ++c) dsigma[size_t(r * n + c)] += glambda[size_t(k)] * vk[size_t(r)] * vk[size_t(c)];
  }
  CHECK_CLOSE(ours, from_vector(dsigma, {1, n, n}), 1e-12, 1e-10);
}

TEST_CASE("sqrtm: float32 internals and bad input") {
  Generator gen(40);
  Tensor x = randn({2, 5, 3, 3}, DType::Float32, &gen);
  CovariancePoolingOptions f32;
  f32.dtype = DType::Float32;
  Tensor y32 = covariance_sqrt_pooling(x, f32);
  Tensor y64 = covariance_sqrt_pooling(x);
  CHECK(y32.dtype() == DType::Float32);
  CHECK_CLOSE(y32, y64, 1e-4, 1e-3);
  CHECK_THROWS_WITH_AS(parse_sqrt_method("svd-cholesky"), doctest::Contains("valid: original, trunc"), Error);
  CHECK(parse_sqrt_method("svd-pade") == SqrtMethod::Pade);
  CHECK(parse_sqrt_method("pi-deflation") == SqrtMethod::PIDeflation);
  CHECK_THROWS_WITH_AS(sqrtm(zeros({2, 3, 4}, DType::Float64)), doctest::Contains("square matrices"), Error);
  MatrixSqrtOptions bad;
  bad.isqrt_iterations = 0;
  CHECK_THROWS_WITH_AS(sqrtm(eye(2, DType::Float64).unsqueeze(0), bad), doctest::Contains("isqrt_iterations"), Error);
}
