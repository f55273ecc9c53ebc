// batch_norm_relu (the fused BN + residual add + ReLU of a ResNet block) against the three ops it
// replaces (each tested against naive references in test_nn_ops.cpp and test_unary.cpp), and
// float64 gradchecks of every input.
#include "ops/kernel_table.h"
#include "ops/kernels/nn.h"
#include "ops/nn_ops.h"
#include "tests/test_util.h"

using namespace dsvd;
using test::Fn;

namespace {

struct Results {
  Tensor y, running_mean, running_var, dx, dw, db, dr;
};

Results run(bool fused, const Tensor& x, const Tensor& residual, const Tensor& w, const Tensor& b, const Tensor& g) {
  Tensor lx = x.clone().requires_grad_(), lw = w.clone().requires_grad_(), lb = b.clone().requires_grad_();
  Tensor lr = residual.defined() ? residual.clone().requires_grad_() : Tensor();
  Tensor rm = zeros({x.size(1)}, x.dtype()), rv = ones({x.size(1)}, x.dtype());
  Tensor y = fused ? batch_norm_relu(lx, lr, lw, lb, rm, rv, true, 0.1, 1e-5)
                   : relu(lr.defined() ? add(batch_norm(lx, lw, lb, rm, rv, true, 0.1, 1e-5), lr)
                                       : batch_norm(lx, lw, lb, rm, rv, true, 0.1, 1e-5));
  y.backward(g);
  return {y.detach(), rm, rv, lx.grad(), lw.grad(), lb.grad(), lr.defined() ? lr.grad() : Tensor()};
}

}  // namespace

TEST_CASE("batch_norm_relu: equals relu(batch_norm(x) + residual), values, running statistics and gradients") {
  Generator gen(3);
  for (const Shape& shape : {Shape{4, 3, 5, 6}, Shape{7, 5}}) {
    for (bool with_residual : {true, false}) {
      CAPTURE(shape_str(shape));
      CAPTURE(with_residual);
      Tensor x = randn(shape, DType::Float32, &gen);
      Tensor r = with_residual ? randn(shape, DType::Float32, &gen) : Tensor();
      Tensor w = randn({shape[1]}, DType::Float32, &gen), b = randn({shape[1]}, DType::Float32, &gen);
      Tensor g = randn(shape, DType::Float32, &gen);
      Results fused = run(true, x, r, w, b, g), composed = run(false, x, r, w, b, g);
      CHECK_CLOSE(fused.y, composed.y, 1e-6, 1e-6);
      CHECK(to_vector(eq(fused.y, scalar_tensor(0.0, DType::Float32))) ==
            to_vector(eq(composed.y, scalar_tensor(0.0, DType::Float32))));  // the same units off
      CHECK_CLOSE(fused.running_mean, composed.running_mean, 1e-7, 1e-7);
      CHECK_CLOSE(fused.running_var, composed.running_var, 1e-7, 1e-7);
      CHECK_CLOSE(fused.dx, composed.dx, 1e-5, 1e-5);
      CHECK_CLOSE(fused.dw, composed.dw, 1e-5, 1e-5);
      CHECK_CLOSE(fused.db, composed.db, 1e-5, 1e-5);
      if (with_residual) CHECK_CLOSE(fused.dr, composed.dr, 0, 0);  // dy masked: exactly
    }
  }
}

TEST_CASE("batch_norm_relu: a NaN passes the gradient as ReLU's backward does") {
  // A NaN input makes its channel's statistics NaN: every output of that channel is NaN, and the
  // ReLU's rule (gradient where y > 0 or y is NaN) lets the gradient through to the residual.
  Tensor x = from_vector({1, NAN, 2, -1, 3, 4, 0.5, -2}, {4, 2}).to(DType::Float32);
  Tensor r = zeros({4, 2}), g = ones({4, 2});
  Tensor w = ones({2}), b = zeros({2});
  Results fused = run(true, x, r, w, b, g), composed = run(false, x, r, w, b, g);
  CHECK(std::isnan(to_vector(fused.y)[1]));
  CHECK(to_vector(fused.dr) == to_vector(composed.dr));
  CHECK(to_vector(fused.dr)[1] == 1.0);
  CHECK(to_vector(fused.dr)[3] == 1.0);
}

TEST_CASE("batch_norm_relu: gradcheck of input, weight, bias and residual (float64)") {
  Generator gen(8);
  Tensor x = randn({3, 2, 3, 3}, DType::Float64, &gen), r = randn({3, 2, 3, 3}, DType::Float64, &gen);
  Tensor w = randn({2}, DType::Float64, &gen), b = randn({2}, DType::Float64, &gen);
  CHECK_GRADCHECK(Fn([](auto& in) { return batch_norm_relu(in[0], in[3], in[1], in[2], Tensor(), Tensor(), true); }),
                  {x, w, b, r});
  CHECK_GRADCHECK(Fn([](auto& in) { return batch_norm_relu(in[0], Tensor(), in[1], in[2], Tensor(), Tensor(), true); }),
                  {x, w, b});
  Tensor rm = randn({2}, DType::Float64, &gen), rv = add(rand({2}, DType::Float64, &gen), 0.5);
  CHECK_GRADCHECK(Fn([rm, rv](auto& in) { return batch_norm_relu(in[0], in[3], in[1], in[2], rm, rv, false); }),
                  {x, w, b, r});
}

TEST_CASE("batch_norm_relu: a residual of another shape, dtype or device is named") {
  Tensor x = zeros({2, 3, 4, 4});
  CHECK_THROWS_WITH_AS(batch_norm_relu(x, zeros({2, 3, 4, 5}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("the residual has shape [2, 3, 4, 5]"), Error);
  CHECK_THROWS_WITH_AS(batch_norm_relu(x, zeros({2, 3, 4, 4}, DType::Float64), Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("the residual is float64"), Error);
}

TEST_CASE("batch_norm_relu: on a device without the fused kernels, the three ops (the fallback path)") {
  // The CPU's fused kernels taken out of the table for the test, as on a device that has none.
  using Forward = kernels::Table<kernels::BatchNormReluTrainingKernel>;
  auto* saved = Forward::slot[size_t(Device::Kind::CPU)];
  Generator gen(9);
  Tensor x = randn({4, 3, 5, 5}, DType::Float32, &gen), r = randn({4, 3, 5, 5}, DType::Float32, &gen);
  Tensor w = randn({3}, DType::Float32, &gen), b = randn({3}, DType::Float32, &gen), g = randn({4, 3, 5, 5}, DType::Float32, &gen);
  Forward::slot[size_t(Device::Kind::CPU)] = nullptr;
  Results fallback;
  try {
    fallback = run(true, x, r, w, b, g);
  } catch (...) {
    Forward::slot[size_t(Device::Kind::CPU)] = saved;
    throw;
  }
  Forward::slot[size_t(Device::Kind::CPU)] = saved;
  Results composed = run(false, x, r, w, b, g);
  CHECK(to_vector(fallback.y) == to_vector(composed.y));
  CHECK(to_vector(fallback.dx) == to_vector(composed.dx));
  CHECK(to_vector(fallback.dr) == to_vector(composed.dr));
}
