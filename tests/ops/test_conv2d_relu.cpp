// conv2d_relu (ops/nn_ops.h): relu(conv2d(x, w, b)) as one fused op. Held to the composition bit
// for bit (values and gradients, float32 on oneDNN and float64 on im2col), gradchecked in float64,
// a NaN kept as ReLU keeps it, and the fallback (a device without the fused kernel) composing.
#include <cmath>
#include <limits>

#include "ops/kernel_table.h"
#include "ops/kernels/nn.h"
#include "ops/nn_ops.h"
#include "tests/test_util.h"

using namespace dsvd;
using test::Fn;

namespace {

struct Results {
  std::vector<double> y, dx, dw, db;
};

Results run(bool fused, const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o, uint64_t seed) {
  Tensor xi = x.clone().requires_grad_(), wi = w.clone().requires_grad_();
  Tensor bi = b.defined() ? b.clone().requires_grad_() : Tensor();
  Tensor y = fused ? conv2d_relu(xi, wi, bi, o) : relu(conv2d(xi, wi, bi, o));
  Generator g(seed);
  y.backward(randn(y.sizes(), y.dtype(), &g));
  return {to_vector(y), to_vector(xi.grad()), to_vector(wi.grad()), b.defined() ? to_vector(bi.grad()) : std::vector<double>()};
}

void check_same(const Results& a, const Results& b) {
  CHECK(a.y == b.y);
  CHECK(a.dx == b.dx);
  CHECK(a.dw == b.dw);
  CHECK(a.db == b.db);
}

}  // namespace

TEST_CASE("conv2d_relu: equals relu(conv2d(x, w, b)) bit for bit, values and gradients") {
  const Conv2dOptions options[] = {{{1, 1}, {1, 1}, {1, 1}, 1}, {{4, 4}, {2, 2}, {1, 1}, 1}, {{2, 1}, {0, 1}, {1, 2}, 2}};
  uint64_t seed = 500;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const Conv2dOptions& o : options) {
      CAPTURE(dtype_name(dtype));
      CAPTURE(o.stride[0]);
      Generator g(seed++);
      Tensor x = randn({3, 4, 13, 11}, dtype, &g), w = randn({6, 4 / o.groups, 3, 3}, dtype, &g), b = randn({6}, dtype, &g);
      check_same(run(true, x, w, b, o, seed), run(false, x, w, b, o, seed));
      check_same(run(true, x, w, Tensor(), o, seed), run(false, x, w, Tensor(), o, seed));
    }
  }
  // About half the outputs are clipped: the mask is exercised.
  Generator g(7);
  Tensor y = conv2d_relu(randn({2, 3, 8, 8}, DType::Float32, &g), randn({4, 3, 3, 3}, DType::Float32, &g));
  const auto v = to_vector(y);
  const auto zeros = std::count(v.begin(), v.end(), 0.0);
  CHECK(zeros > int64_t(v.size()) / 4);
  CHECK(zeros < 3 * int64_t(v.size()) / 4);
}

TEST_CASE("conv2d_relu: gradcheck of input, weight and bias (float64)") {
  Generator g(61);
  Tensor x = randn({2, 3, 6, 5}, DType::Float64, &g), w = randn({4, 3, 3, 3}, DType::Float64, &g);
  Tensor b = randn({4}, DType::Float64, &g);
  CHECK_GRADCHECK(Fn([](auto& in) { return conv2d_relu(in[0], in[1], in[2], {{1, 1}, {1, 1}}); }), {x, w, b});
}

TEST_CASE("conv2d_relu: a NaN stays NaN, as ReLU keeps it") {
  Tensor x = zeros({1, 1, 3, 3});
  Tensor w = ones({1, 1, 1, 1});
  Tensor b = from_vector({std::numeric_limits<double>::quiet_NaN()}, {1}, DType::Float32);
  const auto v = to_vector(conv2d_relu(x, w, b));
  for (double e : v) CHECK(std::isnan(e));
}

TEST_CASE("conv2d_relu: on a device without the fused kernel, conv2d then relu (the fallback path)") {
  using Fused = kernels::Table<kernels::Conv2dReluForwardKernel>;
  auto* saved = Fused::slot[size_t(Device::Kind::CPU)];
  Generator g(8);
  Tensor x = randn({2, 3, 9, 9}, DType::Float32, &g), w = randn({5, 3, 3, 3}, DType::Float32, &g);
  Tensor b = randn({5}, DType::Float32, &g);
  const Conv2dOptions o{{2, 2}, {1, 1}, {1, 1}, 1};
  Fused::slot[size_t(Device::Kind::CPU)] = nullptr;
  Results fallback;
  try {
    fallback = run(true, x, w, b, o, 3);
  } catch (...) {
    Fused::slot[size_t(Device::Kind::CPU)] = saved;
    throw;
  }
  Fused::slot[size_t(Device::Kind::CPU)] = saved;
  check_same(fallback, run(true, x, w, b, o, 3));
}
