// NaN propagates through every max-based op, as in PyTorch, so that an audit finds where a NaN
// starts instead of seeing it vanish: relu (forward, and its gradient passes where the output is
// NaN), clamp, max-pooling and max. The same checks run on the GPU when there is one.
#include <cmath>
#include <limits>

#include "tensor/device_backend.h"
#include "ops/nn_ops.h"
#include "ops/ops.h"
#include "tests/test_util.h"

using namespace dsvd;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_nan_propagates(Device device, DType dtype) {
  CAPTURE(device.str());
  CAPTURE(dtype_name(dtype));
  // relu: NaN out where NaN in; its gradient is the incoming one there (threshold_backward).
  Tensor x = from_vector({-1, kNaN, 2, 0}, {4}, dtype).to(device).requires_grad_();
  Tensor y = relu(x);
  auto v = to_vector(y);
  CHECK(v[0] == 0);
  CHECK(std::isnan(v[1]));
  CHECK(v[2] == 2);
  CHECK(v[3] == 0);
  y.backward(from_vector({10, 20, 30, 40}, {4}, dtype).to(device));
  CHECK(to_vector(x.grad()) == std::vector<double>{0, 20, 30, 0});
  // clamp keeps NaN.
  CHECK(std::isnan(to_vector(clamp(from_vector({kNaN}, {1}, dtype).to(device), -1, 1))[0]));
  // max-pooling: a window holding a NaN gives NaN.
  Tensor img = from_vector({1, kNaN, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3}, dtype).to(device);
  Pool2dOptions window;
  window.kernel = {2, 2};
  window.stride = {1, 1};
  auto pooled = to_vector(max_pool2d(img, window));
  CHECK(std::isnan(pooled[0]));
  CHECK(std::isnan(pooled[1]));
  CHECK(pooled[2] == 8);
  CHECK(pooled[3] == 9);
  // max over a dimension.
  CHECK(std::isnan(max(from_vector({1, kNaN, 3}, {3}, dtype).to(device)).item()));
}

}  // namespace

TEST_CASE("NaN propagates through relu, clamp, max-pooling and max on the CPU") {
  for (DType dtype : {DType::Float32, DType::Float64}) check_nan_propagates(Device::cpu(), dtype);
}

TEST_CASE("NaN propagates through relu, clamp, max-pooling and max on the GPU" * doctest::skip(device_count(Device::Kind::CUDA) == 0)) {
  for (DType dtype : {DType::Float32, DType::Float64}) check_nan_propagates(Device::cuda(0), dtype);
}
