// The eigenvalue floor ε is the machine epsilon of the dtype the decomposition runs in, as the
// reference's torch.finfo(dtype).eps: 2^-52 in float64, 2^-23 in float32 (docs/matrix-functions.md
// §4.1). Expectations derived by hand; the float32 Padé sums P(1), Q(1) by numpy (see
// tests/ops/test_select.cpp).
#include <cmath>

#include "apps/svd_lab/lab.h"
#include "ops/matfn/repair.h"
#include "tests/matfn/matfn_test_util.h"

using namespace dsvd;
using namespace dsvd::test;

namespace {

const float kRootEps32 = 3.4526698e-04f;  // √(2^-23) = 2^-11.5 = 3.452669830012439e-4, rounded to float32
constexpr float kPadeP1 = -0.54903615f;   // P(1) accumulated in float32 (numpy)

double at(const Tensor& t, int64_t i, int64_t j, int64_t b = 0) {
  return t.select(0, b).select(0, i).select(0, j).item();
}

MatrixSqrtOptions with_report(SqrtMethod m, int drop = 50) {
  MatrixSqrtOptions o = method(m);
  o.topn_drop = drop;
  o.report = std::make_shared<MatfnReport>();
  return o;
}

// Σ = diag(values) as a (1, n, n) tensor of `dtype`.
Tensor diagonal(const std::vector<double>& values, DType dtype) {
  const int64_t n = int64_t(values.size());
  std::vector<double> m(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) m[size_t(i * n + i)] = values[size_t(i)];
  return from_vector(m, {1, n, n}, dtype);
}

}  // namespace

TEST_CASE("clamp floor: the dtype's machine epsilon") {
  CHECK(clamp_floor(DType::Float64) == std::ldexp(1.0, -52));
  CHECK(clamp_floor(DType::Float32) == std::ldexp(1.0, -23));
  CHECK(float(std::sqrt(clamp_floor(DType::Float32))) == kRootEps32);
}

TEST_CASE("clamp floor: a zero matrix gives √ε·I in float32 (3.45e-4) and in float64 (2^-26), every SVD rule") {
  for (SqrtMethod m : all_sqrt_methods()) {
    if (!uses_eigendecomposition(m) || !is_square_root(m)) continue;  // seb: tests/matfn/test_seb.cpp  // no clamp: a zero matrix is 0/0 (tests/apps/test_svd_lab_checks.cpp)
    CAPTURE(sqrt_method_name(m));
    for (DType dtype : {DType::Float32, DType::Float64}) {
      MatrixSqrtOptions o = with_report(m);
      Tensor q = sqrtm(zeros({2, 4, 4}, dtype), o);
      CHECK(q.dtype() == dtype);
      const double root = dtype == DType::Float32 ? double(kRootEps32) : std::ldexp(1.0, -26);
      for (int64_t b = 0; b < 2; ++b)
        for (int64_t i = 0; i < 4; ++i)
          for (int64_t j = 0; j < 4; ++j) CHECK(at(q, i, j, b) == (i == j ? root : 0.0));
      for (double l : to_vector(o.report->eigenvalues)) CHECK(l == clamp_floor(dtype));
    }
  }
}

TEST_CASE("clamp floor: TopN in float32 sets the dropped eigenvalues to 2^-23 (n = 8, 32, 64)") {
  for (int64_t n : {8, 32, 64}) {
    CAPTURE(n);
    std::vector<double> spectrum;
    for (int64_t k = n; k >= 1; --k) spectrum.push_back(double(k));  // distinct: eigenvectors are ±e_k
    MatrixSqrtOptions o = with_report(SqrtMethod::TopN);
    lab::LayerRun run = lab::run_on_matrices(diagonal(spectrum, DType::Float32), zeros({1, n, n}), o,
                                             DType::Float32, /*full=*/true);
    CHECK(run.output.dtype() == DType::Float32);
    const int64_t kept = std::max<int64_t>(0, n - 50);  // 0, 0 and 14
    auto lambda = to_vector(run.report->eigenvalues);
    int64_t at_floor = 0;
    for (int64_t k = 0; k < n; ++k) {
      const double want = k < kept ? double(n - k) : std::ldexp(1.0, -23);
      CHECK(lambda[size_t(k)] == want);
      at_floor += lambda[size_t(k)] == std::ldexp(1.0, -23);
      // Q = diag(√λ) in the input's order: entry k holds eigenvalue n − k.
      CHECK(at(run.output, k, k) == (k < kept ? double(std::sqrt(float(n - k))) : double(kRootEps32)));
    }
    CHECK(at_floor == n - kept);
  }
}

TEST_CASE("clamp floor: ties λ = [3, 2, 2, ε32, ε32] in float32, each rule's K̃ (§8 item 7 in float32)") {
  const double eps = std::ldexp(1.0, -23);
  Tensor lambda = from_vector({3, 2, 2, eps, eps}, {1, 5}, DType::Float32);
  // Original: +inf at both tied pairs, repaired to the batch's largest finite K̃ = 1/(3 − 2).
  Tensor original = k_original(lambda).contiguous().clone();
  CHECK(std::isinf(at(original, 3, 4)));
  repair_infinities(original, "K", nullptr);
  CHECK(at(original, 1, 2) == 1.0);
  CHECK(at(original, 3, 4) == 1.0);
  // Trunc: +1e10 (rounded to float32) at ties.
  CHECK(at(k_trunc(lambda), 3, 4) == double(1e10f));
  // Taylor: 101/λ_i at ties: 50.5 and 101·2^23 = 847249408 (both exact in float32).
  Tensor taylor = k_taylor(lambda);
  CHECK(at(taylor, 1, 2) == 50.5);
  CHECK(at(taylor, 3, 4) == 847249408.0);
  CHECK(at(taylor, 4, 3) == 847249408.0);
  // Padé: in float32 Q(1) = −2^-23, not 0: the tie value is finite, (a·P(1))/Q(1) with a = 1/λ_i,
  // i.e. |P(1)|·2^22 for λ = 2 and |P(1)|·2^46 ≈ 3.86e13 for λ = ε32; nothing for Φ₋ to repair.
  Tensor pade = k_pade(lambda);
  CHECK(at(pade, 1, 2) == std::ldexp(double(-kPadeP1), 22));
  CHECK(at(pade, 2, 1) == std::ldexp(double(-kPadeP1), 22));
  CHECK(at(pade, 3, 4) == std::ldexp(double(-kPadeP1), 46));
  RepairCounts counts;
  Tensor pf = pade.contiguous().clone();
  repair_infinities(pf, "K", &counts);
  CHECK(counts.total() == 0);
  // Untied entries are 1/(λ_i − λ_j) in float32 for all four.
  for (const Tensor& k : {Tensor(original), k_trunc(lambda), taylor, pade})
    CHECK(at(k, 0, 1) == doctest::Approx(1.0).epsilon(1e-6));
}

TEST_CASE("clamp floor: a tie matrix diag(3, 2, 2, 0, 0) through svd_lab's matrix path in float32") {
  // V = I (diagonal input), G = upper-triangular ones: S = G + Gᵀ has 2 on the diagonal, 1 off it.
  // Off-diagonal (§4.4): G_Σ[i][j] = K̃_ji · S_ij · √λ_j; diagonal: ½ (VᵀGV)_ii / √λ_i = ½/√λ_i.
  Tensor sigma = diagonal({3, 2, 2, 0, 0}, DType::Float32);
  Tensor g = ones({1, 15}, DType::Float32);
  const float root2 = std::sqrt(2.0f);
  // Padé: finite tie values, no repair; entry (1, 2): K̃_21 · √2.
  {
    MatrixSqrtOptions o = with_report(SqrtMethod::Pade);
    lab::LayerRun run = lab::run_on_matrices(sigma, g, o, DType::Float32);
    CHECK(run.output.sizes() == Shape{1, 15});
    CHECK(run.report->repairs.total() == 0);
    CHECK(at(run.grad_input, 1, 2) == doctest::Approx(std::ldexp(double(-kPadeP1), 22) * root2).epsilon(1e-6));
    CHECK(at(run.grad_input, 4, 4) == doctest::Approx(0.5 / double(kRootEps32)).epsilon(1e-6));
    for (double l : to_vector(run.report->eigenvalues)) CHECK(l >= std::ldexp(1.0, -23));
  }
  // Original: +inf at the ties, repaired to 1 (the largest finite K̃, 1/(3 − 2)); entry (3, 4):
  // 1 · 1 · √ε32.
  {
    MatrixSqrtOptions o = with_report(SqrtMethod::Original);
    lab::LayerRun run = lab::run_on_matrices(sigma, g, o, DType::Float32);
    CHECK(run.report->repairs.total() > 0);
    CHECK(at(run.grad_input, 3, 4) == doctest::Approx(double(kRootEps32)).epsilon(1e-6));
    CHECK(at(run.grad_input, 1, 2) == doctest::Approx(double(root2)).epsilon(1e-6));
  }
  // Taylor: 101/λ at ties: entry (3, 4) = 101·2^23 · √ε32 = 101·2^11.5.
  {
    MatrixSqrtOptions o = with_report(SqrtMethod::Taylor);
    lab::LayerRun run = lab::run_on_matrices(sigma, g, o, DType::Float32);
    CHECK(at(run.grad_input, 3, 4) == doctest::Approx(101.0 * std::pow(2.0, 11.5)).epsilon(1e-6));
  }
}
