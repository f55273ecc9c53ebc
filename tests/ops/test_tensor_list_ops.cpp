// The ops on lists of gradients (ops/optim.h): sum_of_squares_many against a naive long-double loop
// and across thread counts, scale_many_ against the closed form t · float(f), its non-finite flag,
// and the errors that name the tensor at fault.
#include <omp.h>

#include <cmath>
#include <limits>
#include <vector>

#include "ops/optim.h"
#include "tests/test_util.h"

using namespace dsvd;

namespace {

// Both float dtypes, sizes on both sides of the kernels' chunk (16384 elements), a strided one.
std::vector<Tensor> gradient_like_list() {
  Generator gen(5);
  std::vector<Tensor> list;
  for (int k = 0; k < 9; ++k) {
    const DType dt = k % 3 == 1 ? DType::Float64 : DType::Float32;
    const int64_t n = k == 4 ? 100003 : 1 + (k * 997) % 20011;
    list.push_back(randn({n}, dt, &gen));
  }
  list.push_back(randn({30, 70}, DType::Float32, &gen).transpose(0, 1));  // not contiguous
  list.push_back(zeros({0}, DType::Float32));                             // empty
  return list;
}

}  // namespace

TEST_CASE("sum_of_squares_many: Σ t² over the list in float64, as a naive loop, whatever the thread count") {
  const std::vector<Tensor> list = gradient_like_list();
  long double naive = 0;
  for (const Tensor& t : list)
    for (double v : to_vector(t)) naive += (long double)v * (long double)v;
  const Tensor out = sum_of_squares_many(list);
  CHECK(out.dtype() == DType::Float64);
  CHECK(out.dim() == 0);
  CHECK(std::abs(out.item() - double(naive)) <= 1e-13 * double(naive));

  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one_thread = sum_of_squares_many(list).item();
  omp_set_num_threads(std::max(2, threads));
  const double more_threads = sum_of_squares_many(list).item();
  omp_set_num_threads(threads);
  CHECK(one_thread == out.item());  // bit for bit: the order depends on the shapes alone
  CHECK(more_threads == out.item());

  CHECK(sum_of_squares_many({}).item() == 0.0);
  CHECK(sum_of_squares_many({from_vector({3, 4}, {2})}).item() == 25.0);
  CHECK_THROWS_WITH_AS(sum_of_squares_many({from_vector({1}, {1}), zeros({2}, DType::Int64)}),
                       doctest::Contains("tensor 1 is int64"), Error);
  CHECK_THROWS_WITH_AS(sum_of_squares_many({Tensor()}), doctest::Contains("tensor 0 of the list is undefined"), Error);
}

TEST_CASE("scale_many_: every tensor times the factor rounded to its dtype, in place; the non-finite flag") {
  std::vector<Tensor> list = gradient_like_list();
  list[9] = list[9].contiguous();
  std::vector<std::vector<double>> before;
  for (const Tensor& t : list) before.push_back(to_vector(t));
  const double f = 0.1;  // not a float32 number: rounding it once is visible
  const Tensor flag = zeros({}, DType::Float64);
  scale_many_(list, full({}, f, DType::Float64), flag);
  for (size_t k = 0; k < list.size(); ++k) {
    INFO("tensor " << k);
    const std::vector<double> after = to_vector(list[k]);
    for (size_t i = 0; i < after.size(); ++i) {
      const double expected = list[k].dtype() == DType::Float32 ? double(float(before[k][i]) * float(f)) : before[k][i] * f;
      if (after[i] != expected) {
        CHECK(after[i] == expected);
        break;
      }
    }
  }
  CHECK(flag.item() == 0.0);  // all finite: left as it was

  // One inf in one tensor, a NaN in another: the flag is set and the rest is still scaled.
  Tensor a = from_vector({1, std::numeric_limits<double>::infinity(), 2}, {3}, DType::Float32);
  Tensor b = from_vector({std::nan(""), 4}, {2});
  Tensor c = from_vector({8}, {1});
  scale_many_({a, b, c}, full({}, 0.5, DType::Float64), flag);
  CHECK(flag.item() == 1.0);
  CHECK(to_vector(a)[2] == 1.0);
  CHECK(to_vector(c)[0] == 4.0);
  // A flag already set stays set when the tensors are finite (the caller resets it).
  scale_many_({c}, full({}, 1.0, DType::Float64), flag);
  CHECK(flag.item() == 1.0);

  CHECK_THROWS_WITH_AS(scale_many_({from_vector({1, 2, 3, 4}, {2, 2}).transpose(0, 1)}, full({}, 1.0, DType::Float64)),
                       doctest::Contains("tensor 0 ([2, 2]) is not contiguous"), Error);
  CHECK_THROWS_WITH_AS(scale_many_({c}, full({}, 1.0, DType::Float32)), doctest::Contains("the factor must be one float64"),
                       Error);
  CHECK_THROWS_WITH_AS(scale_many_({c}, full({}, 1.0, DType::Float64), full({2}, 0.0, DType::Float64)),
                       doctest::Contains("the non-finite flag must be one float64"), Error);
}
