// The counter-based generator: Philox's published known-answer values, reproducibility from the
// seed independent of the thread count, and the moments of the distributions.
#include <omp.h>

#include "tensor/random.h"
#include "tests/test_util.h"

using namespace dsvd;

TEST_CASE("random: Philox-4x32-10 matches the Random123 known-answer vectors") {
  // From Random123's kat_vectors: philox4x32 10 rounds.
  auto zero = philox4x32({0, 0, 0, 0}, 0);
  CHECK(zero == std::array<uint32_t, 4>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  auto ones = philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, 0xffffffffffffffffull);
  CHECK(ones == std::array<uint32_t, 4>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  auto pi = philox4x32({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                       (uint64_t(0x299f31d0u) << 32) | 0xa4093822u);
  CHECK(pi == std::array<uint32_t, 4>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE("random: same seed, same numbers, whatever the thread count") {
  const int saved = omp_get_max_threads();
  for (DType dt : {DType::Float32, DType::Float64}) {
    Generator g1(42), g2(42);
    omp_set_num_threads(1);
    auto a = to_vector(randn({100000}, dt, &g1));
    auto b = to_vector(rand({70001}, dt, &g1));
    omp_set_num_threads(2);
    auto c = to_vector(randn({100000}, dt, &g2));
    auto d = to_vector(rand({70001}, dt, &g2));
    CHECK(a == c);
    CHECK(b == d);
    CHECK(a != to_vector(randn({100000}, dt, &g2)));  // the next draw differs
  }
  omp_set_num_threads(saved);
  manual_seed(7);
  auto first = to_vector(randint(0, 10, {50}));
  manual_seed(7);
  CHECK(first == to_vector(randint(0, 10, {50})));
}

TEST_CASE("random: distributions have the right range and moments") {
  Generator g(3);
  const int64_t n = 200000;
  auto u = to_vector(rand({n}, DType::Float64, &g));
  double mean_u = 0, mean_n = 0, var_n = 0;
  for (double v : u) {
    CHECK_UNARY(v >= 0.0 && v < 1.0);
    mean_u += v / double(n);
  }
  CHECK(std::fabs(mean_u - 0.5) < 0.005);  // sd of the mean is 0.29/sqrt(n) = 6.5e-4
  auto z = to_vector(randn({n}, DType::Float32, &g));
  for (double v : z) mean_n += v / double(n);
  for (double v : z) var_n += (v - mean_n) * (v - mean_n) / double(n);
  CHECK(std::fabs(mean_n) < 0.01);
  CHECK(std::fabs(var_n - 1.0) < 0.02);
  auto r = to_vector(randint(-3, 4, {n}, DType::Int64, &g));
  std::vector<int> histogram(7, 0);
  for (double v : r) {
    REQUIRE(v >= -3);
    REQUIRE(v < 4);
    histogram[size_t(v + 3)]++;
  }
  for (int count : histogram) CHECK(std::abs(count - int(n / 7)) < 1000);  // sd about 160
  CHECK_THROWS_WITH_AS(randint(5, 5, {2}), doctest::Contains("empty range"), Error);
}
