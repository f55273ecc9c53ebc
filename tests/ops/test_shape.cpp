// Shape ops under autograd: every view's backward by gradcheck (including non-contiguous inputs),
// and cat/stack against hand-built results.
#include "tests/test_util.h"

using namespace dsvd;

using test::Fn;

namespace {
}

TEST_CASE("shape: cat and stack place every element where expected") {
  Tensor a = from_vector({1, 2, 3, 4}, {2, 2}), b = from_vector({5, 6}, {1, 2});
  CHECK_CLOSE(cat({a, b}, 0), std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK_CLOSE(cat({a, b.t()}, 1), std::vector<double>{1, 2, 5, 3, 4, 6});
  Tensor s = stack({a, a.t()}, 1);
  CHECK(s.sizes() == Shape{2, 2, 2});
  CHECK_CLOSE(s, std::vector<double>{1, 2, 1, 3, 3, 4, 2, 4});
  CHECK(stack({b, b}, -1).sizes() == Shape{1, 2, 2});
  CHECK_THROWS_WITH_AS(cat({a, from_vector({1, 2, 3}, {1, 3})}, 0), doctest::Contains("tensor 1 has shape [1, 3]"), Error);
  CHECK_THROWS_WITH_AS(cat({a, a.to(DType::Float32)}, 0), doctest::Contains("tensor 1 is float32"), Error);
  CHECK_THROWS_WITH_AS(stack({a, b}, 0), doctest::Contains("tensor 1 has shape [1, 2]"), Error);
}

TEST_CASE("shape: gradcheck of every view and join") {
  Generator g(14);
  Tensor x = randn({2, 3, 4}, DType::Float64, &g);
  Tensor xt = randn({4, 3, 2}, DType::Float64, &g).permute({2, 1, 0});  // non-contiguous (2,3,4)
  Tensor y = randn({2, 2, 4}, DType::Float64, &g);
  for (const Tensor& in : {x, xt}) {
    CHECK_GRADCHECK(Fn([](auto& v) { return v[0].reshape({4, 6}); }), {in});
    CHECK_GRADCHECK(Fn([](auto& v) { return v[0].flatten(); }), {in});
    CHECK_GRADCHECK(Fn([](auto& v) { return v[0].transpose(0, 2); }), {in});
    CHECK_GRADCHECK(Fn([](auto& v) { return v[0].permute({1, 2, 0}); }), {in});
    CHECK_GRADCHECK(Fn([](auto& v) { return v[0].narrow(2, 1, 2); }), {in});
    CHECK_GRADCHECK(Fn([](auto& v) { return v[0].slice(1, 0, 3, 2); }), {in});
    CHECK_GRADCHECK(Fn([](auto& v) { return v[0].select(1, 2); }), {in});
    CHECK_GRADCHECK(Fn([](auto& v) { return v[0].unsqueeze(1).squeeze(); }), {in});
    CHECK_GRADCHECK(Fn([](auto& v) { return v[0].select(0, 1).unsqueeze(0).expand({5, 3, 4}); }), {in});
    CHECK_GRADCHECK(Fn([](auto& v) { return v[0].contiguous(); }), {in});
    CHECK_GRADCHECK(Fn([](auto& v) { return v[0].clone(); }), {in});
    CHECK_GRADCHECK(Fn([](auto& v) { return cat({v[0], v[1]}, 1); }), {in, y});
    CHECK_GRADCHECK(Fn([](auto& v) { return stack({v[0], v[0]}, 3); }), {in});
  }
  CHECK_GRADCHECK(Fn([](auto& v) { return v[0].view({3, 8}); }), {x});
  // Gradient through a float32 round trip comes back as float64.
  CHECK_GRADCHECK(Fn([](auto& v) { return mul(v[0].to(DType::Float32).to(DType::Float64), 2.0); }), {x},
                  GradcheckOptions{1e-3, 1e-4, 1e-3, {}, 1234, 0});
}
