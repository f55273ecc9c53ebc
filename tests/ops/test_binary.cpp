// Element-wise binary ops: numpy broadcasting against a naive loop, dtype promotion, and float64
// gradchecks with broadcast and non-contiguous operands.
#include "tests/test_util.h"

using namespace dsvd;

using test::Fn;

namespace {
}

TEST_CASE("binary: broadcasting (2,1,3) with (4,1) matches the naive loop") {
  Generator g(1);
  Tensor a = randn({2, 1, 3}, DType::Float64, &g);
  Tensor b = randn({4, 1}, DType::Float64, &g);
  auto va = to_vector(a), vb = to_vector(b);
  std::vector<double> add_e, sub_e, mul_e, div_e;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 3; ++k) {
        double x = va[size_t(i * 3 + k)], y = vb[size_t(j)];
        add_e.push_back(x + y);
        sub_e.push_back(x - y);
        mul_e.push_back(x * y);
        div_e.push_back(x / y);
      }
  CHECK(add(a, b).sizes() == Shape{2, 4, 3});
  CHECK_CLOSE(add(a, b), add_e);
  CHECK_CLOSE(sub(a, b), sub_e);
  CHECK_CLOSE(mul(a, b), mul_e);
  CHECK_CLOSE(div(a, b), div_e);
  CHECK_CLOSE(a - 1.0, to_vector(add(a, scalar_tensor(-1.0, DType::Float64))));
  CHECK_CLOSE(2.0 / b, to_vector(div(full({4, 1}, 2.0, DType::Float64), b)));
  CHECK_THROWS_WITH_AS(add(zeros({2, 3}), zeros({3, 2})),
                       doctest::Contains("shapes [2, 3] and [3, 2] cannot be broadcast"), Error);
}

TEST_CASE("binary: large operands run threaded and agree with the small-size path") {
  Generator g(2);
  Tensor a = randn({300, 257}, DType::Float32, &g);
  Tensor b = randn({257}, DType::Float32, &g);
  Tensor big = mul(a.t().contiguous().t(), b);  // non-contiguous a, broadcast b
  auto va = to_vector(a), vb = to_vector(b), vbig = to_vector(big);
  double worst = 0;
  for (size_t i = 0; i < vbig.size(); ++i) worst = std::max(worst, std::fabs(vbig[i] - double(float(va[i] * vb[i % 257]))));
  CHECK(worst == 0);
}

TEST_CASE("binary: dtypes promote as numpy does; ints divide into floats") {
  Tensor i = from_vector({1, 2, 3}, {3}, DType::Int64);
  Tensor u = from_vector({250, 10, 1}, {3}, DType::UInt8);
  Tensor f = from_vector({0.5, 0.5, 0.5}, {3}, DType::Float32);
  CHECK(add(i, u).dtype() == DType::Int64);
  CHECK_CLOSE(add(i, u), std::vector<double>{251, 12, 4});
  CHECK(mul(i, f).dtype() == DType::Float32);
  CHECK(div(i, i).dtype() == DType::Float32);
  CHECK_CLOSE(div(i, from_vector({2, 4, 4}, {3}, DType::Int64)), std::vector<double>{0.5, 0.5, 0.75});
  CHECK(mul(i, 2.0).dtype() == DType::Int64);
  CHECK(mul(i, 0.5).dtype() == DType::Float32);
  CHECK_CLOSE(gt(f, 0.25), std::vector<double>{1, 1, 1});
  CHECK(eq(i, from_vector({1, 0, 3}, {3}, DType::Int64)).dtype() == DType::UInt8);
  CHECK_CLOSE(eq(i, from_vector({1, 0, 3}, {3}, DType::Int64)), std::vector<double>{1, 0, 1});
}

TEST_CASE("binary: gradcheck with broadcasting and non-contiguous inputs") {
  Generator g(3);
  Tensor a = randn({3, 4}, DType::Float64, &g);
  Tensor b_nc = randn({4, 3}, DType::Float64, &g).t();  // non-contiguous (3,4)
  Tensor row = randn({1, 4}, DType::Float64, &g);
  Tensor col = add(rand({3, 1}, DType::Float64, &g), 0.5);  // away from 0 for div
  Tensor s = randn({}, DType::Float64, &g);
  CHECK_GRADCHECK(Fn([](auto& in) { return add(in[0], in[1]); }), {a, b_nc});
  CHECK_GRADCHECK(Fn([](auto& in) { return sub(in[0], in[1]); }), {a, row});
  CHECK_GRADCHECK(Fn([](auto& in) { return mul(in[0], in[1]); }), {b_nc, col});
  CHECK_GRADCHECK(Fn([](auto& in) { return div(in[0], in[1]); }), {a, col});
  CHECK_GRADCHECK(Fn([](auto& in) { return div(in[1], in[0]); }), {col, row});
  CHECK_GRADCHECK(Fn([](auto& in) { return mul(in[0], in[1]); }), {a, s});
  CHECK_GRADCHECK(Fn([](auto& in) { return 3.0 - in[0] * 2.0 + 1.0 / (in[1] + 4.0); }), {a, col});
}
