// svd_lab matrix end to end (apps/svd_lab/lab.cpp): --output full|triu, the default per rule, the
// user's dtype kept from the input files to output.npy and grad_input.npy.
#include <cmath>
#include <filesystem>

#include "apps/svd_lab/lab.h"
#include "ops/ops.h"
#include "ops/matfn/inverse_sqrtm.h"
#include "tensor/npy.h"
#include "tests/apps/svd_lab_test_util.h"
#include "tests/matfn/matfn_test_util.h"

using namespace dsvd;
using namespace dsvd::test;
namespace fs = std::filesystem;

namespace {

Tensor spd_batch() {
  return cat({matrix_with_spectrum(random_orthogonal(4, 1), {3, 2, 1, 0.5}),
              matrix_with_spectrum(random_orthogonal(4, 2), {2.5, 2, 1.5, 1})}, 0);
}

// ∂L/∂Σ of sqrtm for upstream G on the full matrix, computed directly.
Tensor direct_gradient(const Tensor& sigma, const Tensor& g, SqrtMethod m) {
  Tensor leaf = sigma.clone().requires_grad_();
  sqrtm(leaf, method(m)).backward(g);
  return leaf.grad();
}

}  // namespace

TEST_CASE("svd_lab matrix: newton and isqrt return the full root by default, in float64, with its gradient") {
  LabDir d("svd_lab_matrix");
  Tensor sigma = spd_batch();
  Generator gen(4);
  Tensor g = randn({2, 4, 4}, DType::Float64, &gen);
  save_npy(d / "s.npy", sigma);
  save_npy(d / "g.npy", g);
  for (SqrtMethod m : {SqrtMethod::Newton, SqrtMethod::ISqrt}) {
    CAPTURE(sqrt_method_name(m));
    const std::string dir = d / sqrt_method_name(m);
    CHECK(run_svd_lab_matrix({"--input", d / "s.npy", "--grad", d / "g.npy", "--rule", sqrt_method_name(m), "--out", dir}) == 0);
    Tensor out = load_npy(dir + "/output.npy"), grad = load_npy(dir + "/grad_input.npy");
    CHECK(out.sizes() == Shape{2, 4, 4});
    CHECK(out.dtype() == DType::Float64);
    CHECK(grad.dtype() == DType::Float64);
    CHECK(to_vector(out) == to_vector(sqrtm(sigma, method(m))));
    CHECK(to_vector(grad) == to_vector(direct_gradient(sigma, g, m)));  // the float64 G, not rounded
  }
  // Newton's forward is the SVD's: Q·Q = Σ.
  Tensor q = load_npy(d / "newton/output.npy");
  CHECK(max_abs(sub(matmul(q, q), sigma)) < 1e-12);
}

TEST_CASE("svd_lab matrix: SVD rules vectorise by default; --output full and a (B, n, n) gradient give the matrix") {
  LabDir d("svd_lab_matrix");
  Tensor sigma = spd_batch();
  Generator gen(9);
  Tensor g_triu = randn({2, 10}, DType::Float64, &gen);
  Tensor g_full = randn({2, 4, 4}, DType::Float64, &gen);
  save_npy(d / "s.npy", sigma);
  save_npy(d / "gt.npy", g_triu);
  save_npy(d / "gf.npy", g_full);
  for (SqrtMethod m : all_sqrt_methods()) {
    if (m == SqrtMethod::Newton || !uses_eigendecomposition(m)) continue;  // full by default
    const std::string rule = sqrt_method_name(m);
    CAPTURE(rule);
    CHECK(run_svd_lab_matrix({"--input", d / "s.npy", "--grad", d / "gt.npy", "--rule", rule, "--out", d / "t"}) == 0);
    CHECK(load_npy(d / "t/output.npy").sizes() == Shape{2, 10});
    CHECK(load_npy(d / "t/output.npy").dtype() == DType::Float64);
    // A (B, n, n) gradient selects full by itself; --output full says it explicitly.
    CHECK(run_svd_lab_matrix({"--input", d / "s.npy", "--grad", d / "gf.npy", "--rule", rule, "--out", d / "f"}) == 0);
    CHECK(run_svd_lab_matrix({"--input", d / "s.npy", "--grad", d / "gf.npy", "--rule", rule, "--output", "full", "--out", d / "f2"}) == 0);
    Tensor full = load_npy(d / "f/output.npy");
    CHECK(full.sizes() == Shape{2, 4, 4});
    CHECK(to_vector(full) == to_vector(load_npy(d / "f2/output.npy")));
    CHECK(to_vector(triu_vec(full)) == to_vector(load_npy(d / "t/output.npy")));
    CHECK(to_vector(load_npy(d / "f/grad_input.npy")) == to_vector(direct_gradient(sigma, g_full, m)));
  }
  // Mismatched requests are refused with the file or option named.
  CHECK_THROWS_WITH_AS(run_svd_lab_matrix({"--input", d / "s.npy", "--grad", d / "gt.npy", "--rule", "pade", "--output", "full",
                                   "--out", d / "x"}), doctest::Contains("gt.npy: expected the upstream gradient of the full square root, shape (2, 4, 4)"), Error);
  CHECK_THROWS_WITH_AS(run_svd_lab_matrix({"--input", d / "s.npy", "--grad", d / "gt.npy", "--rule", "pade", "--output", "both",
                                   "--out", d / "x"}), doctest::Contains("--output must be full or triu"), Error);
  CHECK_THROWS_WITH_AS(run_svd_lab_matrix({"--input", d / "s.npy", "--grad", d / "gf.npy", "--rule", "pade", "--output", "triu",
                                   "--out", d / "x"}), doctest::Contains("gf.npy: expected the upstream gradient of shape (2, 10)"), Error);
}

TEST_CASE("svd_lab matrix: --dtype f32 computes in float32 and writes the input's dtype") {
  LabDir d("svd_lab_matrix");
  save_npy(d / "z.npy", zeros({1, 3, 3}, DType::Float64));
  save_npy(d / "g.npy", zeros({1, 6}, DType::Float64));
  CHECK(run_svd_lab_matrix({"--input", d / "z.npy", "--grad", d / "g.npy", "--rule", "pade", "--dtype", "f32", "--out", d / "o"}) == 0);
  Tensor y = load_npy(d / "o/output.npy");
  CHECK(y.dtype() == DType::Float64);
  // √(2^-23) computed in float32, then widened: the float32 floor, not float64's 2^-26.
  CHECK(to_vector(y) == std::vector<double>{double(std::sqrt(float(std::ldexp(1.0, -23)))), 0, 0,
                                            double(std::sqrt(float(std::ldexp(1.0, -23)))), 0,
                                            double(std::sqrt(float(std::ldexp(1.0, -23))))});
}

TEST_CASE("svd_lab matrix --function invsqrt: both methods, their gradients, and what it refuses") {
  LabDir d("svd_lab_matrix");
  Tensor sigma = spd_batch();
  Generator gen(12);
  Tensor g = randn({2, 4, 4}, DType::Float64, &gen);
  save_npy(d / "s.npy", sigma);
  save_npy(d / "g.npy", g);
  save_npy(d / "g_triu.npy", randn({2, 10}, DType::Float64, &gen));
  // The closed form: V diag(λ^{-1/2}) Vᵀ of each sample.
  Tensor exact = cat({matrix_with_spectrum(random_orthogonal(4, 1), {1 / std::sqrt(3.0), 1 / std::sqrt(2.0), 1.0,
                                                                      1 / std::sqrt(0.5)}),
                      matrix_with_spectrum(random_orthogonal(4, 2), {1 / std::sqrt(2.5), 1 / std::sqrt(2.0),
                                                                      1 / std::sqrt(1.5), 1.0})},
                     0);
  for (InverseSqrtMethod m : {InverseSqrtMethod::Eig, InverseSqrtMethod::MpaLyaInv}) {
    const std::string name = inverse_sqrt_method_name(m), dir = d / name;
    CAPTURE(name);
    CHECK(run_svd_lab_matrix({"--function", "invsqrt", "--input", d / "s.npy", "--grad", d / "g.npy", "--rule", name,
                              "--out", dir}) == 0);
    Tensor out = load_npy(dir + "/output.npy"), grad = load_npy(dir + "/grad_input.npy");
    CHECK(out.sizes() == Shape{2, 4, 4});
    InverseSqrtOptions o;
    o.method = m;
    Tensor leaf = sigma.clone().requires_grad_();
    Tensor w = inverse_sqrtm(leaf, o);
    w.backward(g);
    CHECK(to_vector(out) == to_vector(w));
    CHECK(to_vector(grad) == to_vector(leaf.grad()));
    // eig is the inverse root to rounding; the Padé approximant to its accuracy (λ/‖λ‖ ≥ 0.13).
    CHECK(max_abs(sub(out, exact)) < (m == InverseSqrtMethod::Eig ? 1e-12 : 5e-2));
  }
  CHECK_THROWS_WITH_AS(run_svd_lab_matrix({"--function", "invsqrt", "--input", d / "s.npy", "--grad", d / "g_triu.npy",
                                           "--rule", "eig", "--out", d / "x"}),
                       doctest::Contains("expected the upstream gradient of the full square root"), Error);
  CHECK_THROWS_WITH_AS(run_svd_lab_matrix({"--function", "invsqrt", "--input", d / "s.npy", "--grad", d / "g.npy",
                                           "--rule", "pade", "--out", d / "x"}),
                       doctest::Contains("unknown method 'pade'"), Error);
  CHECK_THROWS_WITH_AS(run_svd_lab_matrix({"--function", "cbrt", "--input", d / "s.npy", "--grad", d / "g.npy", "--rule",
                                           "eig", "--out", d / "x"}),
                       doctest::Contains("--function must be sqrt or invsqrt"), Error);
}
