// solve(A, B): the residual A X − B against a naive loop product, gradchecks of both inputs, 2-D
// and batched shapes, and a singular sample named in the error.
#include "tests/test_util.h"

using namespace dsvd;
using dsvd::test::Fn;

namespace {

// Max |A X − B| by plain loops, relative to max |B|.
double residual(const Tensor& a, const Tensor& x, const Tensor& b) {
  const int64_t batch = a.size(0), n = a.size(1), m = b.size(2);
  auto A = to_vector(a), X = to_vector(x), B = to_vector(b);
  double worst = 0, scale = 0;
  for (int64_t s = 0; s < batch; ++s)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < n; ++k) acc += A[size_t((s * n + i) * n + k)] * X[size_t((s * n + k) * m + j)];
        worst = std::max(worst, std::fabs(acc - B[size_t((s * n + i) * m + j)]));
        scale = std::max(scale, std::fabs(B[size_t((s * n + i) * m + j)]));
      }
  return worst / scale;
}

}  // namespace

TEST_CASE("solve: A X = B for batches and single matrices, float64 and float32") {
  Generator gen(2);
  for (DType dtype : {DType::Float64, DType::Float32}) {
    Tensor a = add(randn({5, 7, 7}, dtype, &gen), mul(eye(7, dtype), 4.0));  // well conditioned
    Tensor b = randn({5, 7, 3}, dtype, &gen);
    Tensor x = solve(a, b);
    CHECK(x.sizes() == Shape{5, 7, 3});
    CHECK(residual(a, x, b) < (dtype == DType::Float64 ? 1e-13 : 1e-5));
    Tensor x2 = solve(a.select(0, 1), b.select(0, 1));  // 2-D
    CHECK(x2.sizes() == Shape{7, 3});
    CHECK_CLOSE(x2, x.select(0, 1), 1e-12, 1e-6);
  }
}

TEST_CASE("solve: gradcheck of both operands") {
  Generator gen(3);
  Tensor a = add(randn({2, 4, 4}, DType::Float64, &gen), mul(eye(4, DType::Float64), 3.0));
  Tensor b = randn({2, 4, 2}, DType::Float64, &gen);
  CHECK_GRADCHECK(Fn([](auto& in) { return solve(in[0], in[1]); }), {a, b});
}

TEST_CASE("solve: bad shapes and a singular sample are refused by name") {
  Tensor good = eye(3, DType::Float64).unsqueeze(0);
  Tensor singular = cat({good, zeros({1, 3, 3}, DType::Float64)}, 0);
  CHECK_THROWS_WITH_AS(solve(singular, ones({2, 3, 1}, DType::Float64)), doctest::Contains("sample 1 is singular"), Error);
  CHECK_THROWS_WITH_AS(solve(ones({1, 3, 2}, DType::Float64), ones({1, 3, 1}, DType::Float64)), doctest::Contains("A must be square"), Error);
  CHECK_THROWS_WITH_AS(solve(good, ones({1, 2, 1}, DType::Float64)), doctest::Contains("do not match"), Error);
  CHECK_THROWS_WITH_AS(solve(good, ones({1, 3, 1}, DType::Float32)), doctest::Contains("two float32 or two float64"), Error);
}
