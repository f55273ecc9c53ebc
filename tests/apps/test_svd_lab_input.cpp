// svd_lab's input checks (apps/svd_lab/lab.h): each bad input gets one message naming the file.
#include <limits>

#include "apps/svd_lab/lab.h"
#include "tests/test_util.h"

using namespace dsvd;

TEST_CASE("svd_lab: bad features, matrices and upstream gradients are refused with the file named") {
  lab::check_features(ones({2, 3, 4, 4}), "f.npy");
  CHECK_THROWS_WITH_AS(lab::check_features(ones({2, 3, 4}), "f.npy"), doctest::Contains("f.npy: expected features of shape (B, C, H, W)"), Error);
  CHECK_THROWS_WITH_AS(lab::check_features(ones({2, 3, 4, 4}, DType::Int64), "f.npy"), doctest::Contains("expected float32 features"), Error);
  CHECK_THROWS_WITH_AS(lab::check_features(ones({0, 3, 4, 4}), "f.npy"), doctest::Contains("empty tensor"), Error);
  Tensor nan = ones({1, 2, 2, 2});
  nan.data<float>()[3] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(lab::check_features(nan, "f.npy"), Error);

  lab::check_matrices(eye(3, DType::Float64).unsqueeze(0), "s.npy");
  CHECK_THROWS_WITH_AS(lab::check_matrices(ones({2, 3, 4}), "s.npy"), doctest::Contains("expected symmetric matrices (B, n, n)"), Error);
  Tensor asym = eye(3, DType::Float64).unsqueeze(0).contiguous();
  asym.data<double>()[1] = 0.5;
  CHECK_THROWS_WITH_AS(lab::check_matrices(asym, "s.npy"), doctest::Contains("not symmetric"), Error);
  CHECK_THROWS_AS(lab::check_matrices(zeros({0, 3, 3}), "s.npy"), Error);

  CHECK(lab::checked_upstream(ones({2, 6, 1}), 2, 3, "g.npy").sizes() == Shape{2, 6});
  CHECK_THROWS_WITH_AS(lab::checked_upstream(ones({2, 5}), 2, 3, "g.npy"), doctest::Contains("expected the upstream gradient of shape (2, 6)"), Error);
}
