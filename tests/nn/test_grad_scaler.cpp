// Dynamic loss scaling (nn/optim/grad_scaler.h) with float16 autocast: an injected overflow skips
// the step and halves the scale, the growth rule, the rescue of gradients that float16 flushes to
// zero, and the checkpoint state.
#include <cmath>

#include "autograd/autocast_mode.h"
#include "nn/optim/grad_scaler.h"
#include "ops/nn_ops.h"
#include "tests/test_util.h"

using namespace dsvd;
using namespace dsvd::nn;

namespace {

// loss = factor · Σ linear(x; W, b) under float16 autocast; backward of the (scaled) loss.
void backward_fp16(const Tensor& w, const Tensor& b, const Tensor& x, double factor, GradScaler* scaler) {
  Tensor loss;
  {
    AutocastScope amp(DType::Float16);
    loss = mul(sum(linear(x, w, b)), factor);
  }
  (scaler ? scaler->scale(loss) : loss).backward();
}

}  // namespace

TEST_CASE("grad scaler: an overflow skips the step, halves the scale, leaves parameters and momentum alone") {
  Generator gen(4);
  Tensor w = randn({3, 5}, DType::Float32, &gen).requires_grad_(), b = zeros({3}, DType::Float32).requires_grad_();
  Tensor x = randn({4, 5}, DType::Float32, &gen);
  const std::vector<Tensor> params = {w, b};
  Sgd sgd({{"w", w}, {"b", b}}, {0.1, 0.9});
  GradScaler scaler({1024.0, 2.0, 0.5, 3});

  // A first good step builds the momentum buffers.
  backward_fp16(w, b, x, 1.0, &scaler);
  scaler.step(sgd, params);
  CHECK_FALSE(scaler.found_inf());
  scaler.update();
  const std::vector<double> w_before = to_vector(w), b_before = to_vector(b);
  const std::vector<double> momentum_before = to_vector(sgd.state()[0].second);

  // The injected overflow: one gradient element becomes +inf after the backward.
  sgd.zero_grad();
  backward_fp16(w, b, x, 1.0, &scaler);
  Tensor g = w.grad().clone();
  g.data<float>()[7] = INFINITY;
  w.set_grad(g);
  scaler.unscale_(params);
  CHECK(scaler.found_inf());
  scaler.step(sgd, params);  // skipped on the device
  scaler.update();
  CHECK(to_vector(w) == w_before);
  CHECK(to_vector(b) == b_before);
  CHECK(to_vector(sgd.state()[0].second) == momentum_before);
  CHECK(scaler.current_scale() == 512.0);
  CHECK(scaler.skipped_steps() == 1);

  // A NaN is an overflow too.
  sgd.zero_grad();
  backward_fp16(w, b, x, 1.0, &scaler);
  Tensor gb = b.grad().clone();
  gb.data<float>()[0] = NAN;
  b.set_grad(gb);
  scaler.step(sgd, params);
  CHECK(scaler.found_inf());
  scaler.update();
  CHECK(scaler.current_scale() == 256.0);

  // growth_interval (3) finite steps in a row double the scale; unscaled gradients are exactly the
  // unscaled loss's (the scale is a power of two and nothing underflows here).
  for (int k = 0; k < 3; ++k) {
    sgd.zero_grad();
    backward_fp16(w, b, x, 1.0, nullptr);
    const std::vector<double> plain = to_vector(w.grad());
    sgd.zero_grad();
    backward_fp16(w, b, x, 1.0, &scaler);
    scaler.unscale_(params);
    CHECK_FALSE(scaler.found_inf());
    CHECK(to_vector(w.grad()) == plain);
    scaler.step(sgd, params);
    scaler.update();
    CHECK(scaler.current_scale() == (k < 2 ? 256.0 : 512.0));
  }
  CHECK(scaler.skipped_steps() == 2);
}

TEST_CASE("grad scaler: a real float16 overflow (scale too large) is skipped until the scale fits") {
  Generator gen(8);
  Tensor w = randn({3, 5}, DType::Float32, &gen).requires_grad_(), b = zeros({3}, DType::Float32).requires_grad_();
  Tensor x = randn({4, 5}, DType::Float32, &gen);
  Sgd sgd({{"w", w}, {"b", b}}, {0.1});
  // dL/dy = 1 per output, scaled by 2^20: float16's largest finite is 65504 < 2^16, so the scaled
  // gradient of the float16 product is inf until the scale drops to 2^15 (five halvings).
  GradScaler scaler({std::ldexp(1.0, 20), 2.0, 0.5, 2000});
  int stepped_at = -1;
  for (int k = 0; k < 10 && stepped_at < 0; ++k) {
    sgd.zero_grad();
    backward_fp16(w, b, x, 1.0, &scaler);
    scaler.step(sgd, {w, b});
    if (!scaler.found_inf()) stepped_at = k;
    scaler.update();
  }
  // Gradients of W are Σ_n x[n, j]·2^s, |x| up to ~3: finite once 2^s·max_j Σ_n |x[n, j]| < 65504.
  double column_max = 0;
  for (int64_t j = 0; j < 5; ++j) {
    double s = 0;
    for (int64_t n = 0; n < 4; ++n) s += std::fabs(to_vector(x)[size_t(n * 5 + j)]);
    column_max = std::max(column_max, s);
  }
  int expected = 0;
  for (double s = std::ldexp(1.0, 20); !(s * std::max(column_max, 4.0) < 65504.0); s /= 2) ++expected;
  CHECK(stepped_at == expected);
  CHECK(scaler.skipped_steps() == expected);
}

TEST_CASE("grad scaler: scaling rescues gradients that float16 flushes to zero") {
  Generator gen(6);
  Tensor w = zeros({2, 8}, DType::Float32).requires_grad_(), b = zeros({2}, DType::Float32).requires_grad_();
  // dL/dW[i, j] = 1e-4 · Σ_n x[n, j] ≈ 1e-8: below float16's smallest subnormal (2^-24 ≈ 6e-8).
  Tensor x = mul(rand({3, 8}, DType::Float32, &gen), 3e-5);
  const std::vector<double> xs = to_vector(x.to(DType::Float16));
  backward_fp16(w, b, x, 1e-4, nullptr);
  const std::vector<double> flushed = to_vector(w.grad());
  w.set_grad(Tensor());
  b.set_grad(Tensor());
  GradScaler scaler;  // 2^16
  backward_fp16(w, b, x, 1e-4, &scaler);
  scaler.unscale_({w, b});
  CHECK_FALSE(scaler.found_inf());
  const std::vector<double> rescued = to_vector(w.grad());
  int flushed_zeros = 0;
  for (int64_t j = 0; j < 8; ++j) {
    double expected = 0;  // float64 from the float16 inputs the product saw
    for (int64_t n = 0; n < 3; ++n) expected += xs[size_t(n * 8 + j)];
    // The scaled upstream gradient S·1e-4 is rounded to float16 once, then divided by S again.
    expected *= double(float(float16(float(65536.0 * 1e-4)))) / 65536.0;
    for (int64_t i = 0; i < 2; ++i) {
      flushed_zeros += flushed[size_t(i * 8 + j)] == 0.0;
      // Scaled, the gradient is a normal float16 (11 significant bits): one rounding.
      CHECK(std::fabs(rescued[size_t(i * 8 + j)] - expected) <= 1.01 * std::ldexp(1.0, -10) * expected);
    }
  }
  CHECK(flushed_zeros >= 8);  // without scaling most of them are lost
}

TEST_CASE("grad scaler: state round trip and bad options") {
  GradScaler a({8.0, 2.0, 0.5, 2});
  Tensor p = ones({2}, DType::Float32).requires_grad_();
  Sgd sgd({{"p", p}}, {0.1});
  p.set_grad(ones({2}, DType::Float32));
  a.step(sgd, {p});
  a.update();
  GradScaler b({1.0, 2.0, 0.5, 2});  // options are the run's; the state is scale and tracker
  b.load_state(a.state());
  CHECK(b.current_scale() == 8.0);
  // One more finite step completes a's growth interval in b as well.
  p.set_grad(ones({2}, DType::Float32));
  b.step(sgd, {p});
  b.update();
  CHECK(b.current_scale() == 16.0);
  CHECK_THROWS_WITH(GradScaler({0.0}), doctest::Contains("init_scale must be positive"));
  CHECK_THROWS_WITH(GradScaler({1.0, 2.0, 1.5}), doctest::Contains("backoff_factor must be in (0, 1)"));
  CHECK_THROWS_WITH(b.update(), doctest::Contains("call unscale_() or step() first"));
  CHECK_THROWS_WITH(b.load_state({{"grad_scaler.scale", scalar_tensor(-1.0, DType::Float64)}}),
                    doctest::Contains("grad_scaler.scale must be one positive finite number"));
}

TEST_CASE("grad scaler: a step reads nothing back to the host; the scale follows the rule in double") {
  Generator gen(9);
  Tensor w = randn({3, 5}, DType::Float32, &gen).requires_grad_(), b = zeros({3}, DType::Float32).requires_grad_();
  Tensor x = randn({4, 5}, DType::Float32, &gen);
  Sgd sgd({{"w", w}, {"b", b}}, {0.1, 0.9});
  // Factors that are not powers of two: the scale must be init·0.3 after one skip and ·1.7 after
  // two finite steps, each product rounded once in double, as a host computing it would.
  GradScaler scaler({1000.0, 1.7, 0.3, 2});
  const bool overflow[] = {true, false, false, false};
  const uint64_t reads = host_value_reads();
  for (bool inject : overflow) {
    sgd.zero_grad();
    backward_fp16(w, b, x, 1.0, &scaler);
    if (inject) {
      Tensor g = w.grad().clone();
      g.data<float>()[0] = -INFINITY;
      w.set_grad(g);
    }
    scaler.step(sgd, {w, b});
    scaler.update();
  }
  CHECK(host_value_reads() == reads);
  CHECK(scaler.current_scale() == 1000.0 * 0.3 * 1.7);
  CHECK(scaler.skipped_steps() == 1);
  CHECK_FALSE(scaler.found_inf());
}
