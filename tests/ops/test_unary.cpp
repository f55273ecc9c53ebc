// Element-wise unary ops: values against <cmath>, and float64 gradchecks (contiguous and not).
#include "tests/test_util.h"

using namespace dsvd;

using test::Fn;

namespace {

void check_against(const Tensor& x, Tensor (*op)(const Tensor&), double (*ref)(double), double tol) {
  auto in = to_vector(x);
  std::vector<double> expected;
  for (double v : in) expected.push_back(ref(v));
  CHECK_CLOSE(op(x), expected, tol, tol);
}
}  // namespace

TEST_CASE("unary: values match <cmath> in float32 and float64") {
  Generator g(5);
  for (DType dt : {DType::Float32, DType::Float64}) {
    double tol = dt == DType::Float32 ? 1e-6 : 1e-14;
    Tensor x = mul(randn({40000}, dt, &g), 3.0);  // above the threading threshold
    Tensor pos = add(rand({1000}, dt, &g), 0.01);
    check_against(x, neg, [](double v) { return -v; }, tol);
    check_against(x, exp, [](double v) { return std::exp(v); }, tol);
    check_against(pos, log, [](double v) { return std::log(v); }, tol);
    check_against(pos, sqrt, [](double v) { return std::sqrt(v); }, tol);
    check_against(x, abs, [](double v) { return std::fabs(v); }, tol);
    check_against(x, relu, [](double v) { return v > 0 ? v : 0.0; }, tol);
    check_against(x, sigmoid, [](double v) { return 1 / (1 + std::exp(-v)); }, tol);
    check_against(x, tanh, [](double v) { return std::tanh(v); }, tol);
    check_against(x, sign, [](double v) { return double((v > 0) - (v < 0)); }, 0);
  }
  CHECK_CLOSE(pow(from_vector({4, 9}, {2}), 1.5), std::vector<double>{8, 27});
  CHECK_CLOSE(clamp(from_vector({-2, 0.5, 7}, {3}), -1, 1), std::vector<double>{-1, 0.5, 1});
  CHECK_CLOSE(clamp(from_vector({-2, 0.5, 7}, {3}), 0), std::vector<double>{0, 0.5, 7});
  CHECK_CLOSE(sigmoid(from_vector({-1000, 1000}, {2})), std::vector<double>{0, 1});  // no overflow
  CHECK_CLOSE(relu(from_vector({-3, 4}, {2}, DType::Int64)), std::vector<double>{0, 4});
  CHECK_THROWS_WITH_AS(exp(zeros({2}, DType::Int64)), doctest::Contains("exp: not defined for int64 tensors"), Error);
  CHECK_THROWS_WITH_AS(clamp(zeros({2}), 1, 0), doctest::Contains("min 1 is greater than max 0"), Error);
}

TEST_CASE("unary: gradcheck of every differentiable unary op") {
  Generator g(6);
  Tensor x = randn({3, 4}, DType::Float64, &g).t();  // non-contiguous
  Tensor pos = add(rand({2, 3}, DType::Float64, &g), 0.5);
  GradcheckOptions away_from_kinks;
  away_from_kinks.kink_radius = 1e-3;
  CHECK_GRADCHECK(Fn([](auto& in) { return neg(in[0]); }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return exp(in[0]); }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return log(in[0]); }), {pos});
  CHECK_GRADCHECK(Fn([](auto& in) { return sqrt(in[0]); }), {pos});
  CHECK_GRADCHECK(Fn([](auto& in) { return pow(in[0], 2.5); }), {pos});
  CHECK_GRADCHECK(Fn([](auto& in) { return pow(in[0], -1.0); }), {pos});
  CHECK_GRADCHECK(Fn([](auto& in) { return pow(in[0], 3.0); }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return abs(in[0]); }), {x}, away_from_kinks);
  CHECK_GRADCHECK(Fn([](auto& in) { return relu(in[0]); }), {x}, away_from_kinks);
  CHECK_GRADCHECK(Fn([](auto& in) { return sigmoid(in[0]); }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return tanh(in[0]); }), {x});
  // Clamp bounds chosen away from the data so no element sits on a kink.
  Tensor c = from_vector({-2.0, -0.7, 0.1, 0.6, 1.9}, {5});
  CHECK_GRADCHECK(Fn([](auto& in) { return clamp(in[0], -0.5, 0.5); }), {c});
  Tensor gclamp;
  {
    Tensor leaf = c.clone().requires_grad_();
    sum(clamp(leaf, -0.5, 0.5)).backward();
    gclamp = leaf.grad();
  }
  CHECK_CLOSE(gclamp, std::vector<double>{0, 0, 1, 0, 0});
}
