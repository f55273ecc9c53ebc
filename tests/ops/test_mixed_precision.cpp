// bfloat16 and float16 through the ops (ops/kernels/float32_compute.h) and the autocast policy
// (ops/autocast.h), op by op.
//
// The ops here have one-kernel backwards; a backward made of several ops rounds after each (as
// PyTorch's do) and is covered by the autocast tests below. Each op on 16-bit tensors must give (a) exactly its float32 computation on the widened inputs,
// rounded once, forward and backward (the widening contract), and (b) the float64 computation on
// the same inputs within one 16-bit rounding (the math).
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "autograd/autocast_mode.h"
#include "ops/autocast.h"
#include "ops/matfn/covariance.h"
#include "ops/matfn/inverse_sqrtm.h"
#include "ops/matfn/sqrtm.h"
#include "ops/matfn/symeig.h"
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

namespace {

// One call of each op of the autocast policy table, on inputs of `dtype`; returns its output.
std::map<std::string, std::function<Tensor(DType)>> policy_probes() {
  auto gen = std::make_shared<Generator>(9);
  auto r = [gen](const Shape& s, DType d) { return randn(s, DType::Float32, gen.get()).to(d); };
  auto spd = [gen](DType d) {  // symmetric positive definite 2x4x4
    Tensor a = randn({2, 4, 6}, DType::Float64, gen.get());
    return add(matmul(a, a.transpose(1, 2)), mul(eye(4, DType::Float64), 0.5)).to(d);
  };
  return {
      {"conv2d", [=](DType d) { return conv2d(r({2, 3, 5, 5}, d), r({4, 3, 3, 3}, d), r({4}, d)); }},
      {"linear", [=](DType d) { return linear(r({3, 6}, d), r({2, 6}, d), r({2}, d)); }},
      {"matmul", [=](DType d) { return matmul(r({3, 6}, d), r({6, 2}, d)); }},
      {"log_softmax", [=](DType d) { return log_softmax(r({3, 5}, d), 1); }},
      {"cross_entropy",
       [=](DType d) { return cross_entropy(r({3, 5}, d), from_vector({0, 4, 2}, {3}, DType::Int64), 0.0); }},
      {"sum", [=](DType d) { return sum(r({3, 5}, d), {1}, false); }},
      {"mean", [=](DType d) { return mean(r({3, 5}, d), {1}, false); }},
      {"var", [=](DType d) { return var(r({3, 5}, d), {1}, 1, false); }},
      // Σ in float32 (float64 for float64 features): never in a 16-bit dtype.
      {"covariance_pool",
       [=](DType d) { return covariance_pool(r({2, 4, 3, 3}, d), {d == DType::Float64 ? d : DType::Float32}); }},
      {"sqrtm", [=](DType d) { return sqrtm(spd(d)); }},
      {"symeig", [=](DType d) { return symeig_descending(spd(d)).values; }},
      {"inverse_sqrtm", [=](DType d) { return inverse_sqrtm(spd(d)); }},
  };
}

}  // namespace

TEST_CASE("autocast: each op of the policy table runs in its policy's dtype") {
  auto probes = policy_probes();
  // Every op of the table has a probe, and only those: a new entry needs its check here.
  std::vector<std::string> table_ops, probed_ops;
  for (const auto& e : autocast::policy_table()) table_ops.push_back(e.op);
  for (const auto& [name, fn] : probes) probed_ops.push_back(name);
  std::sort(table_ops.begin(), table_ops.end());
  CHECK(table_ops == probed_ops);

  for (DType low : {DType::BFloat16, DType::Float16}) {
    AutocastScope amp(low);
    for (const auto& e : autocast::policy_table()) {
      const std::string where = std::string(e.op) + " under " + dtype_name(low);
      CAPTURE(where);
      if (e.policy == autocast::Policy::LowPrecision) {
        CHECK(probes[e.op](DType::Float32).dtype() == low);                // float32 inputs lowered
        CHECK(probes[e.op](DType::Float64).dtype() == DType::Float64);     // float64 never lowered (as PyTorch)
      } else {
        REQUIRE(e.policy == autocast::Policy::Float32);
        CHECK(probes[e.op](low).dtype() == DType::Float32);                // 16-bit inputs raised
        CHECK(probes[e.op](DType::Float64).dtype() == DType::Float64);
      }
    }
    // Ops outside the table keep their input's dtype.
    Tensor x = randn({2, 3, 6, 6}, DType::Float32).to(low);
    Tensor w = ones({3}, DType::Float32), b = zeros({3}, DType::Float32);
    CHECK(autocast::policy_of("relu") == autocast::Policy::InputDtype);
    CHECK(relu(x).dtype() == low);
    CHECK(add(x, x).dtype() == low);
    CHECK(add(x, randn({6}, DType::Float32)).dtype() == DType::Float32);  // promotion, as PyTorch
    CHECK(max_pool2d(x, {{2, 2}}).dtype() == low);
    CHECK(adaptive_avg_pool2d(x, {1, 1}).dtype() == low);
    CHECK(batch_norm(x, w, b, Tensor(), Tensor(), true, 0.1, 1e-5).dtype() == low);
    CHECK(batch_norm_relu(x, x, w, b, Tensor(), Tensor(), true, 0.1, 1e-5).dtype() == low);
  }
  // Outside a scope nothing is cast.
  CHECK(conv2d(randn({1, 1, 3, 3}), randn({1, 1, 2, 2})).dtype() == DType::Float32);
  CHECK(sum(randn({4}).to(DType::BFloat16)).dtype() == DType::BFloat16);
  CHECK_THROWS_WITH(set_autocast_dtype(DType::Float64), doctest::Contains("must be bfloat16 or float16"));
}

TEST_CASE("autocast: gradients reach float32 parameters in float32 and match a float32 step within 16-bit rounding") {
  // A small conv -> batch norm + ReLU -> pool -> linear -> cross-entropy step, as a network runs it.
  Generator gen(21);
  Tensor x = randn({4, 3, 8, 8}, DType::Float32, &gen);
  Tensor targets = from_vector({1, 0, 2, 1}, {4}, DType::Int64);
  Tensor conv_w = mul(randn({6, 3, 3, 3}, DType::Float32, &gen), 0.3);
  Tensor fc_w = mul(randn({3, 6}, DType::Float32, &gen), 0.3), fc_b = zeros({3}, DType::Float32);
  auto step = [&](std::optional<DType> low) {
    std::vector<Tensor> p = {conv_w.clone().requires_grad_(), ones({6}, DType::Float32).requires_grad_(),
                             zeros({6}, DType::Float32).requires_grad_(), fc_w.clone().requires_grad_(),
                             fc_b.clone().requires_grad_()};
    Tensor loss;
    {
      AutocastScope amp(low);
      Tensor h = conv2d(x, p[0], Tensor(), {{1, 1}, {1, 1}});
      if (low) CHECK(h.dtype() == *low);
      h = batch_norm_relu(h, Tensor(), p[1], p[2], Tensor(), Tensor(), true, 0.1, 1e-5);
      h = adaptive_avg_pool2d(h, {1, 1}).reshape({4, 6});
      Tensor logits = linear(h, p[3], p[4]);
      loss = cross_entropy(logits, targets, 0.0);
    }
    CHECK(loss.dtype() == DType::Float32);
    loss.backward();
    std::vector<Tensor> grads;
    for (const Tensor& t : p) grads.push_back(t.grad());
    return std::make_pair(loss.item(), grads);
  };
  const auto [loss32, grads32] = step(std::nullopt);
  for (DType low : {DType::BFloat16, DType::Float16}) {
    CAPTURE(dtype_name(low));
    const auto [loss16, grads16] = step(low);
    // Inputs and weights rounded to 8 (11) significant bits, through four ops: a few roundings.
    const double tol = 8 * machine_epsilon(low);
    CHECK(std::fabs(loss16 - loss32) <= tol * std::fabs(loss32));
    for (size_t i = 0; i < grads32.size(); ++i) {
      CAPTURE(i);
      CHECK(grads16[i].dtype() == DType::Float32);
      const std::vector<double> a = to_vector(grads16[i]), e = to_vector(grads32[i]);
      double scale = 0;
      for (double v : e) scale = std::max(scale, std::fabs(v));
      const std::string err = test::compare_values(a, e, tol * scale, 0);
      CHECK_MESSAGE(err == "", err);
    }
  }
}
