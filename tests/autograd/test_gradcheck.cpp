// gradcheck itself: it must pass a correct rule, and catch a wrong one naming the worst element.
#include "autograd/function.h"
#include "tests/test_util.h"

using namespace dsvd;

namespace {
// x^3 with a deliberately wrong backward (2x^2 instead of 3x^2) for element 3 only.
Tensor wrong_cube(const Tensor& x) {
  Tensor out = mul(mul(x.detach(), x.detach()), x.detach());
  return record_op("wrong_cube", {out}, {x}, {{"self", x}}, [](const std::vector<Tensor>& g, FunctionNode& n) {
    const Tensor& s = n.saved_tensor(0);
    Tensor right = mul(mul(s, s), 3.0);
    Tensor wrong = mul(mul(s, s), 2.0);
    Tensor mask = ge(arange(0.0, double(s.numel()), 1.0, DType::Float64).reshape(s.sizes()), 3.0).to(DType::Float64);
    Tensor slope = add(mul(wrong, mask), mul(right, rsub(mask, 1.0)));
    return std::vector<Tensor>{mul(g[0], slope)};
  })[0];
}
}  // namespace

TEST_CASE("gradcheck: a correct rule passes, a wrong one fails with the worst element") {
  Tensor x = from_vector({0.5, -1.0, 2.0, 3.0}, {4});
  auto right = [](const std::vector<Tensor>& in) { return pow(in[0], 3.0); };
  CHECK_GRADCHECK(right, {x});
  auto result = gradcheck([](const std::vector<Tensor>& in) { return wrong_cube(in[0]); }, {x});
  CHECK(!result.ok);
  MESSAGE(result.message);
  CHECK(result.message.find("input 0 element [3]") != std::string::npos);  // the only wrong element
  // The objective weights each element by a random r: analytic r*2x^2 vs numeric r*3x^2.
  double analytic = std::stod(result.message.substr(result.message.find("analytic ") + 9));
  double numeric = std::stod(result.message.substr(result.message.find("numeric ") + 8));
  CHECK(analytic / numeric == doctest::Approx(2.0 / 3.0).epsilon(1e-6));
}

TEST_CASE("gradcheck: refuses float32 inputs and skips kinks when asked") {
  Tensor f = from_vector({1, 2}, {2}, DType::Float32);
  CHECK_THROWS_WITH_AS(gradcheck([](const std::vector<Tensor>& in) { return in[0]; }, {f}, GradcheckOptions{}),
                       doctest::Contains("need float64"), Error);
  GradcheckOptions options;
  options.check_input = {true};
  CHECK_THROWS_AS(gradcheck([](const std::vector<Tensor>& in) { return in[0]; }, {f}, options), Error);
  // relu at exactly 0 has no derivative; with kink_radius the element is skipped.
  Tensor x = from_vector({0.0, 1.0, -1.0}, {3});
  GradcheckOptions kinks;
  kinks.kink_radius = 1e-3;
  auto r = gradcheck([](const std::vector<Tensor>& in) { return relu(in[0]); }, {x}, kinks);
  CHECK(r.ok);
  CHECK(r.checked == 2);
}
