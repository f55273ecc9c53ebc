// Pooling, batch norm, dropout, linear and the losses against naive references, with gradchecks.
#include <omp.h>

#include "ops/nn_ops.h"
#include "tests/test_util.h"

using namespace dsvd;
using test::Fn;

TEST_CASE("pooling: max, avg and adaptive avg match hand-computed windows") {
  // 1x1x4x5 input 0..19.
  Tensor x = arange(0.0, 20.0, 1.0, DType::Float64).reshape({1, 1, 4, 5});
  // max 2x2 stride 2: windows rows {0,1},{2,3}, cols {0,1},{2,3} (col 4 dropped).
  CHECK_CLOSE(max_pool2d(x, {{2, 2}}), std::vector<double>{6, 8, 16, 18});
  // ceil_mode keeps the partial last column window.
  Tensor c = max_pool2d(x, {{2, 2}, {2, 2}, {0, 0}, true});
  CHECK(c.sizes() == Shape{1, 1, 2, 3});
  CHECK_CLOSE(c, std::vector<double>{6, 8, 9, 16, 18, 19});
  // 3x3 stride 2 pad 1 (ResNet's stem pool): output 2x3.
  Tensor p = max_pool2d(x, {{3, 3}, {2, 2}, {1, 1}});
  CHECK_CLOSE(p, std::vector<double>{6, 8, 9, 16, 18, 19});
  // avg with padding counts the padding in the divisor by default.
  Tensor a = avg_pool2d(x, {{3, 3}, {2, 2}, {1, 1}});
  CHECK(a.select(0, 0).select(0, 0).select(0, 0).select(0, 0).item() == doctest::Approx((0 + 1 + 5 + 6) / 9.0));
  Pool2dOptions no_pad{{3, 3}, {2, 2}, {1, 1}, false, false};
  CHECK(avg_pool2d(x, no_pad).select(0, 0).select(0, 0).select(0, 0).select(0, 0).item() == doctest::Approx(3.0));
  // Adaptive to 2x2: rows [0,2),[2,4); cols [0,3),[2,5).
  Tensor ad = adaptive_avg_pool2d(x, {2, 2});
  CHECK_CLOSE(ad, std::vector<double>{(0 + 1 + 2 + 5 + 6 + 7) / 6.0, (2 + 3 + 4 + 7 + 8 + 9) / 6.0,
                                      (10 + 11 + 12 + 15 + 16 + 17) / 6.0, (12 + 13 + 14 + 17 + 18 + 19) / 6.0},
              1e-12, 1e-12);
  CHECK_CLOSE(adaptive_avg_pool2d(x, {1, 1}), std::vector<double>{9.5});
  CHECK_THROWS_WITH_AS(max_pool2d(x, {{3, 3}, {1, 1}, {2, 2}}), doctest::Contains("at most half the kernel"), Error);
}

TEST_CASE("pooling: max equals a naive scan (first maximum, NaN wins) in value and gradient routing") {
  // Small integers make ties common; a NaN and -inf sit in the first plane. Geometries: ResNet's
  // stem pool, strides 1 and 3, ceil_mode, uneven kernels, and a 17x17 window (int64 indices).
  struct Case {
    Pool2dOptions o;
    int64_t h, w;
  };
  const Case cases[] = {{{{3, 3}, {2, 2}, {1, 1}}, 9, 11},  {{{2, 2}, {1, 1}, {1, 1}}, 6, 7},
                        {{{3, 2}, {3, 1}, {1, 0}, true}, 10, 8}, {{{2, 3}, {2, 2}, {0, 1}, true}, 7, 9},
                        {{{17, 17}, {1, 1}, {8, 8}}, 18, 19}};
  Generator gen(12);
  for (const Case& c : cases) {
    for (DType dtype : {DType::Float32, DType::Float64}) {
      CAPTURE(c.o.kernel[0]);
      CAPTURE(c.o.stride[0]);
      std::vector<double> xs = to_vector(rand({2, 3, c.h, c.w}, DType::Float64, &gen));
      for (double& v : xs) v = std::floor(v * 4);
      xs[5] = NAN, xs[7] = -INFINITY;
      Tensor x = from_vector(xs, {2, 3, c.h, c.w}).to(dtype).requires_grad_();
      Tensor y = max_pool2d(x, c.o);
      const int64_t oh = y.size(2), ow = y.size(3);
      Tensor g = rand(y.sizes(), dtype, &gen);
      y.backward(g);
      // The naive scan, row by row over each clipped window.
      std::vector<double> want(size_t(y.numel())), grad(xs.size(), 0.0), gs = to_vector(g);
      for (int64_t plane = 0; plane < 6; ++plane)
        for (int64_t oy = 0; oy < oh; ++oy)
          for (int64_t ox = 0; ox < ow; ++ox) {
            int64_t arg = -1;
            double m = 0;
            for (int64_t ky = 0; ky < c.o.kernel[0]; ++ky)
              for (int64_t kx = 0; kx < c.o.kernel[1]; ++kx) {
                const int64_t iy = oy * c.o.stride[0] - c.o.padding[0] + ky, ix = ox * c.o.stride[1] - c.o.padding[1] + kx;
                if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                const int64_t at = (plane * c.h + iy) * c.w + ix;
                const double v = xs[size_t(at)];
                if (arg < 0 || v > m || (std::isnan(v) && !std::isnan(m))) arg = at, m = v;
              }
            const int64_t k = (plane * oh + oy) * ow + ox;
            want[size_t(k)] = m;
            grad[size_t(arg)] += gs[size_t(k)];
          }
      auto got = to_vector(y);
      for (size_t k = 0; k < want.size(); ++k)
        CHECK((got[k] == want[k] || (std::isnan(got[k]) && std::isnan(want[k]))));
      CHECK_CLOSE(x.grad(), from_vector(grad, x.sizes()).to(dtype), 1e-6, 1e-6);
    }
  }
}

TEST_CASE("pooling: gradchecks, including ceil_mode and padding") {
  Generator g(53);
  Tensor x = randn({2, 3, 7, 6}, DType::Float64, &g);
  CHECK_GRADCHECK(Fn([](auto& in) { return max_pool2d(in[0], {{3, 3}, {2, 2}, {1, 1}}); }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return max_pool2d(in[0], {{2, 2}, {2, 2}, {0, 0}, true}); }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return avg_pool2d(in[0], {{3, 3}, {2, 2}, {1, 1}, true}); }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return avg_pool2d(in[0], {{3, 2}, {1, 2}, {1, 0}, false, false}); }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return adaptive_avg_pool2d(in[0], {3, 4}); }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return adaptive_avg_pool2d(in[0], {1, 1}); }), {x});
}

TEST_CASE("batch_norm: training normalises, updates running stats like PyTorch; eval uses them") {
  Generator g(54);
  Tensor x = add(mul(randn({4, 3, 5, 5}, DType::Float64, &g), 2.0), 1.0);
  Tensor rm = zeros({3}, DType::Float64), rv = ones({3}, DType::Float64);
  Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.1, 1e-5);
  auto ym = to_vector(mean(y, {0, 2, 3}));
  auto yv = to_vector(var(y, {0, 2, 3}, 0));
  for (int c = 0; c < 3; ++c) {
    CHECK(std::fabs(ym[size_t(c)]) < 1e-12);
    CHECK(yv[size_t(c)] == doctest::Approx(1.0).epsilon(1e-4));  // σ²/(σ²+ε)
  }
  auto bm = to_vector(mean(x, {0, 2, 3})), bv = to_vector(var(x, {0, 2, 3}, 1));
  for (int c = 0; c < 3; ++c) {
    CHECK(to_vector(rm)[size_t(c)] == doctest::Approx(0.1 * bm[size_t(c)]).epsilon(1e-12));
    CHECK(to_vector(rv)[size_t(c)] == doctest::Approx(0.9 + 0.1 * bv[size_t(c)]).epsilon(1e-12));  // unbiased
  }
  Tensor w = from_vector({1, 2, 3}, {3}), b = from_vector({0, -1, 0.5}, {3});
  Tensor e = batch_norm(x, w, b, rm, rv, false);
  auto xv = to_vector(x), ev = to_vector(e), rmv = to_vector(rm), rvv = to_vector(rv);
  for (size_t i = 0; i < xv.size(); ++i) {
    size_t c = (i / 25) % 3;
    double expected = (xv[i] - rmv[c]) / std::sqrt(rvv[c] + 1e-5) * (c + 1.0) + to_vector(b)[c];
    REQUIRE(ev[i] == doctest::Approx(expected).epsilon(1e-12));
  }
  CHECK_THROWS_WITH_AS(batch_norm(x, from_vector({1, 2}, {2}), Tensor(), rm, rv, true), doctest::Contains("weight must have shape [3]"), Error);
}

TEST_CASE("batch_norm: the saved statistics are the batch's mean and 1/sqrt(var + eps), float64 on the CPU") {
  Generator g(55);
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Tensor x = add(mul(randn({3, 2, 4, 4}, dtype, &g), 3.0), 0.5).requires_grad_();
    Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
    auto* node = dynamic_cast<FunctionNode*>(y.grad_fn().get());
    REQUIRE(node != nullptr);
    const Tensor& saved_mean = node->saved_tensor("mean");
    const Tensor& saved_invstd = node->saved_tensor("invstd");
    // The CPU sums and saves in float64 whatever the input (a GPU saves cuDNN's, in the input's dtype).
    CHECK(saved_mean.dtype() == DType::Float64);
    CHECK(saved_invstd.dtype() == DType::Float64);
    // Naive loops in float64 over the same values.
    auto xv = to_vector(x);
    for (int64_t c = 0; c < 2; ++c) {
      double s = 0, ss = 0;
      for (int64_t n = 0; n < 3; ++n)
        for (int64_t k = 0; k < 16; ++k) s += xv[size_t((n * 2 + c) * 16 + k)];
      const double mu = s / 48;
      for (int64_t n = 0; n < 3; ++n)
        for (int64_t k = 0; k < 16; ++k) ss += std::pow(xv[size_t((n * 2 + c) * 16 + k)] - mu, 2);
      const double tol = 1e-13;
      CHECK(to_vector(saved_mean)[size_t(c)] == doctest::Approx(mu).epsilon(tol));
      CHECK(to_vector(saved_invstd)[size_t(c)] == doctest::Approx(1 / std::sqrt(ss / 48 + 1e-5)).epsilon(tol));
    }
  }
}

TEST_CASE("batch_norm: gradcheck in training and evaluation, 2-D and 4-D") {
  Generator g(55);
  Tensor x = randn({3, 2, 3, 3}, DType::Float64, &g), w = randn({2}, DType::Float64, &g), b = randn({2}, DType::Float64, &g);
  CHECK_GRADCHECK(Fn([](auto& in) { return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true); }), {x, w, b});
  Tensor rm = randn({2}, DType::Float64, &g), rv = add(rand({2}, DType::Float64, &g), 0.5);
  CHECK_GRADCHECK(Fn([rm, rv](auto& in) { return batch_norm(in[0], in[1], in[2], rm, rv, false); }), {x, w, b});
  Tensor x2 = randn({5, 3}, DType::Float64, &g);
  CHECK_GRADCHECK(Fn([](auto& in) { return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true); }), {x2});
}

TEST_CASE("dropout: seeded, scaled by 1/(1−p), identity in eval") {
  Tensor x = ones({100000}, DType::Float32);
  Generator g1(7), g2(7);
  Tensor a = dropout(x, 0.3, true, &g1), b = dropout(x, 0.3, true, &g2);
  CHECK(to_vector(a) == to_vector(b));
  double kept = 0;
  for (double v : to_vector(a)) {
    REQUIRE((v == 0.0 || std::fabs(v - 1.0 / 0.7) < 1e-6));
    kept += v != 0;
  }
  CHECK(kept / 100000 == doctest::Approx(0.7).epsilon(0.01));
  CHECK(dropout(x, 0.3, false).shares_storage_with(x));
  Tensor w = from_vector({1, 2, 3}, {3}).requires_grad_();
  Generator g3(1);
  Tensor y = dropout(w, 0.5, true, &g3);
  sum(y).backward();
  auto yv = to_vector(y), gv = to_vector(w.grad());
  for (int i = 0; i < 3; ++i) CHECK(gv[size_t(i)] == (yv[size_t(i)] == 0 ? 0.0 : 2.0));
}

TEST_CASE("linear, log_softmax, cross_entropy and top-k against naive references") {
  Generator g(56);
  Tensor x = randn({4, 5}, DType::Float64, &g), w = randn({3, 5}, DType::Float64, &g), b = randn({3}, DType::Float64, &g);
  CHECK_CLOSE(linear(x, w, b), add(matmul(x, w.t().contiguous()), b), 1e-12, 1e-12);
  CHECK(linear(randn({2, 4, 5}, DType::Float64, &g), w).sizes() == Shape{2, 4, 3});
  CHECK_GRADCHECK(Fn([](auto& in) { return linear(in[0], in[1], in[2]); }), {x, w, b});

  Tensor logits = mul(randn({6, 4}, DType::Float64, &g), 3.0);
  auto lv = to_vector(logits);
  std::vector<double> expected;
  for (int i = 0; i < 6; ++i) {
    double s = 0;
    for (int k = 0; k < 4; ++k) s += std::exp(lv[size_t(i * 4 + k)]);
    for (int k = 0; k < 4; ++k) expected.push_back(lv[size_t(i * 4 + k)] - std::log(s));
  }
  CHECK_CLOSE(log_softmax(logits, 1), expected, 1e-12, 1e-12);
  CHECK_CLOSE(log_softmax(logits.t(), 0).t(), expected, 1e-12, 1e-12);
  CHECK_GRADCHECK(Fn([](auto& in) { return log_softmax(in[0], 1); }), {logits});
  CHECK_GRADCHECK(Fn([](auto& in) { return log_softmax(in[0], 0); }), {logits});

  Tensor targets = from_vector({0, 3, 1, 2, 2, 0}, {6}, DType::Int64);
  for (double eps : {0.0, 0.1}) {
    double loss = 0;
    for (int i = 0; i < 6; ++i) {
      double row = 0;
      for (int k = 0; k < 4; ++k) row += expected[size_t(i * 4 + k)];
      loss += -((1 - eps) * expected[size_t(i * 4 + int(to_vector(targets)[size_t(i)]))] + eps / 4 * row);
    }
    CHECK(cross_entropy(logits, targets, eps).item() == doctest::Approx(loss / 6).epsilon(1e-12));
    CHECK_GRADCHECK(Fn([targets, eps](auto& in) { return cross_entropy(in[0], targets, eps); }), {logits});
  }
  CHECK_THROWS_WITH_AS(cross_entropy(logits, from_vector({0, 1, 2, 3, 4, 0}, {6}, DType::Int64)),
                       doctest::Contains("target 4 of sample 4"), Error);
  Tensor scores = from_vector({0.1, 0.5, 0.4, /**/ 0.9, 0.05, 0.05, /**/ 0.2, 0.3, 0.5}, {3, 3});
  Tensor labels = from_vector({2, 0, 0}, {3}, DType::Int64);
  CHECK(topk_correct(scores, labels, {1, 2, 3}) == std::vector<int64_t>{1, 2, 3});

  // The counts against a naive loop of the rule (rank = classes scoring higher + equal ones
  // before the target): random logits with many ties (integers in [0, 4)) and a NaN row.
  Generator gen(17);
  Tensor tied = randint(0, 4, {200, 5}, DType::Int64, &gen).to(DType::Float32);
  tied.data<float>()[7 * 5 + 2] = NAN;
  Tensor truth = randint(0, 5, {200}, DType::Int64, &gen);
  const std::vector<int64_t> ks = {1, 2, 3, 5};
  std::vector<int64_t> naive(ks.size(), 0);
  for (int64_t i = 0; i < 200; ++i) {
    const int64_t t = truth.data<int64_t>()[i];
    const float s = tied.data<float>()[i * 5 + t];
    int64_t rank = 0;
    for (int64_t k = 0; k < 5; ++k) {
      const float v = tied.data<float>()[i * 5 + k];
      rank += v > s || (v == s && k < t);
    }
    for (size_t j = 0; j < ks.size(); ++j) naive[j] += rank < ks[j];
  }
  const uint64_t reads = host_value_reads();
  Tensor counts = topk_correct_counts(tied, truth, ks);
  CHECK(host_value_reads() == reads);
  CHECK(counts.dtype() == DType::Int64);
  CHECK(topk_correct(tied, truth, ks) == naive);
  CHECK(naive[3] == 200);
  CHECK_THROWS_WITH_AS(topk_correct_counts(scores, from_vector({0, 1}, {2}, DType::Int64), {1}),
                       doctest::Contains("topk_correct"), Error);
}
