#include "nn/init.h"

#include <cmath>

#include "tensor/parallel.h"
#include "ops/ops.h"

namespace dsvd::nn::init {

namespace {
// t ← a·t + b in place, on a fresh tensor nobody else holds (one pass, threaded).
Tensor affine_in_place(Tensor t, float a, float b) {
  float* p = t.data<float>();
  const int64_t n = t.numel();
  parallel_for(0, n, n > kParallelGrain, [&](int64_t i) { p[i] = a * p[i] + b; });
  return t;
}
}  // namespace

Tensor uniform(const Shape& shape, double low, double high, Generator* gen) {
  return affine_in_place(rand(shape, DType::Float32, gen), float(high - low), float(low));
}

Tensor normal(const Shape& shape, double std, Generator* gen) {
  return affine_in_place(randn(shape, DType::Float32, gen), float(std), 0.0f);
}

Tensor default_uniform(const Shape& shape, int64_t fan_in, Generator* gen) {
  double bound = 1.0 / std::sqrt(double(fan_in));
  return uniform(shape, -bound, bound, gen);
}

Tensor kaiming_normal_fan_out(const Shape& w, Generator* gen) {
  int64_t fan_out = w[0];
  for (size_t i = 2; i < w.size(); ++i) fan_out *= w[i];
  return normal(w, std::sqrt(2.0 / double(fan_out)), gen);
}

}  // namespace dsvd::nn::init
