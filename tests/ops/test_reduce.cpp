// Reductions against naive loops, thread-count independence, ties and NaN in max, gradchecks.
#include <omp.h>

#include "tests/test_util.h"

using namespace dsvd;

using test::Fn;

namespace {
}

TEST_CASE("reduce: sum, mean and var over chosen dims match naive loops") {
  Generator g(8);
  Tensor x = randn({3, 4, 5}, DType::Float64, &g);
  auto v = to_vector(x);
  auto at = [&](int i, int j, int k) { return v[size_t(i * 20 + j * 5 + k)]; };
  // Over dims {0, 2}: result indexed by j.
  std::vector<double> s(4, 0), m(4, 0), var1(4, 0), var0(4, 0);
  for (int j = 0; j < 4; ++j) {
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 5; ++k) s[size_t(j)] += at(i, j, k);
    m[size_t(j)] = s[size_t(j)] / 15;
    double ss = 0;
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 5; ++k) ss += (at(i, j, k) - m[size_t(j)]) * (at(i, j, k) - m[size_t(j)]);
    var1[size_t(j)] = ss / 14;
    var0[size_t(j)] = ss / 15;
  }
  CHECK(sum(x, {0, 2}).sizes() == Shape{4});
  CHECK(sum(x, {2, 0}, true).sizes() == Shape{1, 4, 1});
  CHECK_CLOSE(sum(x, {0, -1}), s, 1e-13, 1e-13);
  CHECK_CLOSE(mean(x, {0, 2}), m, 1e-13, 1e-13);
  CHECK_CLOSE(var(x, {0, 2}), var1, 1e-13, 1e-12);
  CHECK_CLOSE(var(x, {0, 2}, 0), var0, 1e-13, 1e-12);
  double total = 0;
  for (double e : v) total += e;
  CHECK(sum(x).dim() == 0);
  CHECK(std::fabs(sum(x).item() - total) < 1e-12);
  CHECK(std::fabs(mean(x).item() - total / 60) < 1e-13);
  CHECK(sum(from_vector({200, 100}, {2}, DType::UInt8)).dtype() == DType::Int64);
  CHECK(sum(from_vector({200, 100}, {2}, DType::UInt8)).item() == 300);
  CHECK(std::isnan(var(from_vector({1}, {1})).item()));  // one sample, correction 1
  CHECK_THROWS_WITH_AS(sum(x, {0, 0}), doctest::Contains("appears twice"), Error);
  CHECK_THROWS_WITH_AS(mean(zeros({2}, DType::Int64)), doctest::Contains("mean: expected a float32"), Error);
}

TEST_CASE("reduce: float32 sums accumulate in float64 and do not depend on the thread count") {
  Generator g(9);
  Tensor x = add(rand({1 << 20}, DType::Float32, &g), 1000.0);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  double one = sum(x).item();
  Tensor rows1 = sum(x.reshape({1024, 1024}), {1});
  omp_set_num_threads(2);
  double two = sum(x).item();
  Tensor rows2 = sum(x.reshape({1024, 1024}), {1});
  omp_set_num_threads(saved);
  CHECK(one == two);
  CHECK(to_vector(rows1) == to_vector(rows2));
  double reference = 0;
  for (double e : to_vector(x)) reference += e;
  CHECK(std::fabs(one - reference) / reference < 1e-7);  // naive float32 accumulation would be off by ~1e-4
}

TEST_CASE("reduce: max and argmax take the first maximum and let NaN win") {
  Tensor x = from_vector({1, 5, 5, 2, /**/ 7, 0, 7, 7, /**/ -1, NAN, 3, NAN}, {3, 4});
  MaxResult r = max(x, 1);
  CHECK_CLOSE(r.values, std::vector<double>{5, 7, NAN});
  CHECK_CLOSE(r.indices, std::vector<double>{1, 0, 1});
  CHECK(r.indices.dtype() == DType::Int64);
  CHECK_CLOSE(argmax(x, 0), std::vector<double>{1, 2, 1, 2});
  CHECK(max(x, 0, true).values.sizes() == Shape{1, 4});
  CHECK(std::isnan(max(x).item()));
  CHECK(max(from_vector({3, 9, -2}, {3})).item() == 9);
  CHECK_THROWS_WITH_AS(max(zeros({2, 0}), 1), doctest::Contains("is empty"), Error);
}

TEST_CASE("reduce: gradcheck of sum, mean, var and max over dims, on non-contiguous input") {
  Generator g(10);
  Tensor x = randn({4, 3, 5}, DType::Float64, &g).permute({1, 2, 0});  // (3,5,4) non-contiguous
  CHECK_GRADCHECK(Fn([](auto& in) { return sum(in[0]); }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return sum(in[0], {1}, true); }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return mean(in[0], {0, 2}); }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return var(in[0], {1}); }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return var(in[0], {0, 2}, 0, true); }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return var(in[0]); }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return max(in[0], 1).values; }), {x});  // random data: no ties
  CHECK_GRADCHECK(Fn([](auto& in) { return max(in[0], -1, true).values; }), {x});
  CHECK_GRADCHECK(Fn([](auto& in) { return max(in[0]); }), {x});
}
