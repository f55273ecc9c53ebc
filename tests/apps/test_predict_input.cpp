// predict's input-batch check (apps/predict_input.h): each bad batch gets one message naming it.
#include <limits>

#include "apps/predict_input.h"
#include "tests/test_util.h"

using namespace dsvd;

TEST_CASE("predict: a bad input batch is refused with the file named") {
  check_predict_batch(zeros({2, 3, 4, 5}), "x.npy");  // fine
  CHECK_THROWS_WITH_AS(check_predict_batch(zeros({2, 1, 4, 5}), "x.npy"), doctest::Contains("x.npy: expected a batch of shape (N, 3, H, W)"), Error);
  CHECK_THROWS_WITH_AS(check_predict_batch(zeros({3, 4, 5}), "x.npy"), doctest::Contains("(N, 3, H, W)"), Error);
  CHECK_THROWS_WITH_AS(check_predict_batch(zeros({2, 3, 4, 5}, DType::Float64), "x.npy"), doctest::Contains("expected float32"), Error);
  CHECK_THROWS_WITH_AS(check_predict_batch(zeros({0, 3, 4, 5}), "x.npy"), doctest::Contains("is empty"), Error);
  Tensor nan = zeros({1, 3, 2, 2});
  nan.data<float>()[7] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(check_predict_batch(nan, "x.npy"), doctest::Contains("element 7 is nan"), Error);
}
