// diag, diag_embed, triu and the upper-triangle vectorisation: values by hand, the row-major
// i <= j order that covariance pooling relies on, and gradchecks.
#include "tests/test_util.h"

using namespace dsvd;

using test::Fn;

namespace {
}

TEST_CASE("triangular: values") {
  Tensor m = arange(0.0, 9.0, 1.0, DType::Float64).reshape({3, 3});
  CHECK_CLOSE(diag(m), std::vector<double>{0, 4, 8});
  CHECK_CLOSE(diag(m, 1), std::vector<double>{1, 5});
  CHECK_CLOSE(diag(m, -2), std::vector<double>{6});
  CHECK_CLOSE(diag(m.t()), std::vector<double>{0, 4, 8});
  CHECK_CLOSE(diag(from_vector({1, 2}, {2})), std::vector<double>{1, 0, 0, 2});
  CHECK_CLOSE(diag(from_vector({7}, {1}), 1), std::vector<double>{0, 7, 0, 0});
  Tensor de = diag_embed(from_vector({1, 2, 3, 4}, {2, 2}));
  CHECK(de.sizes() == Shape{2, 2, 2});
  CHECK_CLOSE(de, std::vector<double>{1, 0, 0, 2, 3, 0, 0, 4});
  CHECK_CLOSE(triu(m), std::vector<double>{0, 1, 2, 0, 4, 5, 0, 0, 8});
  CHECK_CLOSE(triu(m, 1), std::vector<double>{0, 1, 2, 0, 0, 5, 0, 0, 0});
  CHECK_CLOSE(triu(m, -1), std::vector<double>{0, 1, 2, 3, 4, 5, 0, 7, 8});
  // Row-major over i <= j: (0,0) (0,1) (0,2) (1,1) (1,2) (2,2).
  CHECK_CLOSE(triu_vec(m), std::vector<double>{0, 1, 2, 4, 5, 8});
  Tensor batch = stack({m, m.t()});
  CHECK(triu_vec(batch).sizes() == Shape{2, 6});
  CHECK_CLOSE(triu_vec(batch), std::vector<double>{0, 1, 2, 4, 5, 8, 0, 3, 6, 4, 7, 8});
  CHECK_CLOSE(triu_unvec(from_vector({1, 2, 3, 4, 5, 6}, {6}), 3), std::vector<double>{1, 2, 3, 0, 4, 5, 0, 0, 6});
  // n = 256 gives L = 32896, the covariance head's output width.
  CHECK(triu_vec(zeros({256, 256})).sizes() == Shape{32896});
  CHECK_THROWS_WITH_AS(triu_vec(zeros({2, 3})), doctest::Contains("square matrices"), Error);
  CHECK_THROWS_WITH_AS(triu_unvec(zeros({5}), 3), doctest::Contains("n(n+1)/2 = 6"), Error);
}

TEST_CASE("triangular: gradchecks") {
  Generator g(15);
  Tensor m = randn({4, 4}, DType::Float64, &g);
  Tensor mt = randn({4, 4}, DType::Float64, &g).t();
  Tensor b = randn({2, 4, 4}, DType::Float64, &g).transpose(1, 2);
  Tensor v = randn({3}, DType::Float64, &g);
  CHECK_GRADCHECK(Fn([](auto& x) { return diag(x[0]); }), {m});
  CHECK_GRADCHECK(Fn([](auto& x) { return diag(x[0], -1); }), {mt});
  CHECK_GRADCHECK(Fn([](auto& x) { return diag(x[0], 2); }), {v});
  CHECK_GRADCHECK(Fn([](auto& x) { return diag_embed(x[0]); }), {m});
  CHECK_GRADCHECK(Fn([](auto& x) { return triu(x[0], 1); }), {b});
  CHECK_GRADCHECK(Fn([](auto& x) { return triu_vec(x[0]); }), {b});
  CHECK_GRADCHECK(Fn([](auto& x) { return triu_unvec(x[0], 2); }), {v});
  // The covariance-pooling chain in miniature: vec(triu(X Xᵀ / M)).
  Tensor X = randn({2, 3, 5}, DType::Float64, &g);
  CHECK_GRADCHECK(Fn([](auto& x) { return triu_vec(div(matmul(x[0], x[0].transpose(1, 2)), 5.0)); }), {X});
}
