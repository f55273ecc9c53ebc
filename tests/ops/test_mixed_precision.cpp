// bfloat16 and float16 through the ops (ops/kernels/float32_compute.h) and the autocast policy
// (ops/autocast.h), op by op.
//
// The ops here have one-kernel backwards; a backward made of several ops rounds after each (as
// PyTorch's do) and is covered by the autocast tests below. Each op on 16-bit tensors must give (a) exactly its float32 computation on the widened inputs,
// rounded once, forward and backward (the widening contract), and (b) the float64 computation on
// the same inputs within one 16-bit rounding (the math).
#include <cmath>
#include <functional>
#include <map>

#include "autograd/autocast_mode.h"
#include "ops/autocast.h"
#include "ops/nn_ops.h"
#include "tests/test_util.h"

using namespace dsvd;

namespace {

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct OpCase {
  const char* name;
  std::vector<Shape> inputs;
  OpFn fn;
  size_t first_parameter = 99;  // inputs from here on are parameters (float32 under mixed precision)
  bool float64_reference = true;
  bool gradient_is_float32_rounded = true;
};

std::vector<OpCase> op_cases() {
  const Conv2dOptions strided{{2, 1}, {1, 0}, {1, 1}, 1};
  return {
      {"relu", {{3, 50}}, [](const auto& v) { return relu(v[0]); }},
      // exp's backward multiplies by its saved output, which a 16-bit run has rounded: its
      // gradient is not the float32 one rounded, only within one rounding of the float64 one.
      {"exp", {{3, 50}}, [](const auto& v) { return exp(v[0]); }, 99, true, false},
      {"add", {{3, 50}, {50}}, [](const auto& v) { return add(v[0], v[1]); }},
      {"mul", {{3, 50}, {3, 50}}, [](const auto& v) { return mul(v[0], v[1]); }},
      {"mul by a number", {{3, 50}}, [](const auto& v) { return mul(v[0], 3.0); }},
      {"conv2d", {{2, 3, 7, 6}, {4, 3, 3, 2}, {4}},
       [strided](const auto& v) { return conv2d(v[0], v[1], v[2], strided); }},
      {"matmul", {{2, 9, 33}, {2, 33, 5}}, [](const auto& v) { return matmul(v[0], v[1]); }},
      {"matmul (linear's transposed weight)", {{9, 33}, {5, 33}}, [](const auto& v) { return matmul(v[0], v[1].t()); }},
      {"batch_norm (training)", {{4, 3, 5, 5}, {3}, {3}},
       [](const auto& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-5); }, 1},
      {"batch_norm_relu (training)", {{4, 3, 5, 5}, {4, 3, 5, 5}, {3}, {3}},
       [](const auto& v) { return batch_norm_relu(v[0], v[1], v[2], v[3], Tensor(), Tensor(), true, 0.1, 1e-5); }, 2},
      {"batch_norm (evaluation)", {{4, 3, 5, 5}, {3}, {3}},
       [](const auto& v) {
         Tensor rm = full({3}, 0.25, DType::Float32), rv = full({3}, 2.0, DType::Float32);
         return batch_norm(v[0], v[1], v[2], rm, rv, false, 0.1, 1e-5);
       }, 1},
      {"max_pool2d", {{2, 3, 9, 8}}, [](const auto& v) { return max_pool2d(v[0], {{3, 3}, {2, 2}, {1, 1}}); }},
      {"avg_pool2d", {{2, 3, 9, 8}}, [](const auto& v) { return avg_pool2d(v[0], {{3, 2}, {2, 2}, {1, 0}}); }},
      {"adaptive_avg_pool2d", {{2, 3, 9, 8}}, [](const auto& v) { return adaptive_avg_pool2d(v[0], {2, 3}); }},
      // Its mask is drawn in the compute dtype: float32 for 16-bit inputs, float64 for float64
      // inputs (other draws), so it has no float64 reference.
      {"dropout", {{3, 60}}, [](const auto& v) {
         Generator gen(11);
         return dropout(v[0], 0.3, true, &gen);
       }, 99, false},
      {"sum", {{4, 30}}, [](const auto& v) { return sum(v[0], {1}, false); }},
      {"max", {{4, 30}}, [](const auto& v) { return max(v[0], 1, false).values; }},
  };
}

struct Run {
  Tensor out;
  std::vector<Tensor> grads;
};

// The op on leaves of `dtype` (its parameters, from c.first_parameter on, of `parameter_dtype`)
// holding `values`, and its backward from the gradient g.
Run run(const OpCase& c, const std::vector<Tensor>& values, const Tensor& g, DType dtype, DType parameter_dtype) {
  std::vector<Tensor> in;
  for (size_t i = 0; i < values.size(); ++i)
    in.push_back(values[i].to(i >= c.first_parameter ? parameter_dtype : dtype).detach().requires_grad_());
  Run r{c.fn(in), {}};
  r.out.backward(g.to(r.out.dtype()));
  r.out = r.out.detach();
  for (const Tensor& t : in) r.grads.push_back(t.grad());
  return r;
}

// |got − expected| within one rounding of `dtype` at the larger magnitude, plus a floor of 1e-5 of
// the largest value for results that cancel to about zero (float32's own rounding there).
std::string within_one_rounding(const Tensor& got, const Tensor& expected, DType dtype) {
  const std::vector<double> e = to_vector(expected.to(dtype));
  double scale = 0;
  for (double v : e) scale = std::max(scale, std::fabs(v));
  return test::compare_values(to_vector(got), e, 1e-5 * scale + 1e-30, 1.01 * machine_epsilon(dtype));
}

}  // namespace

TEST_CASE("mixed precision: every op on 16-bit tensors is its float32 computation rounded once") {
  Generator gen(5);
  for (DType dtype : {DType::BFloat16, DType::Float16}) {
    for (const OpCase& c : op_cases()) {
      const std::string where = std::string(c.name) + " in " + dtype_name(dtype);
      CAPTURE(where);
      // Values representable in the 16-bit dtype, so that every run sees the same inputs.
      std::vector<Tensor> values;
      for (const Shape& s : c.inputs) values.push_back(randn(s, DType::Float32, &gen).to(dtype).to(DType::Float64));
      Shape out_shape;
      {
        NoGradGuard no_grad;
        out_shape = c.fn(values).sizes();
      }
      Tensor g = randn(out_shape, DType::Float32, &gen).to(dtype).to(DType::Float64);
      // Parameters (batch norm's γ, β) stay float32 next to a 16-bit input, as mixed precision keeps them.
      const Run low = run(c, values, g, dtype, DType::Float32);
      const Run wide = run(c, values, g, DType::Float32, DType::Float32);
      const Run exact = run(c, values, g, DType::Float64, DType::Float64);
      REQUIRE(low.out.dtype() == dtype);
      CHECK(to_vector(low.out) == to_vector(wide.out.to(dtype)));
      if (c.float64_reference)
        CHECK_MESSAGE(within_one_rounding(low.out, exact.out, dtype) == "", within_one_rounding(low.out, exact.out, dtype));
      for (size_t i = 0; i < values.size(); ++i) {
        CAPTURE(i);
        const DType expected = i >= c.first_parameter ? DType::Float32 : dtype;
        REQUIRE(low.grads[i].defined());
        CHECK(low.grads[i].dtype() == expected);
        if (c.gradient_is_float32_rounded) CHECK(to_vector(low.grads[i]) == to_vector(wide.grads[i].to(expected)));
        if (!c.float64_reference) continue;
        const std::string err = within_one_rounding(low.grads[i], exact.grads[i], expected);
        CHECK_MESSAGE(err == "", err);
      }
    }
  }
}
