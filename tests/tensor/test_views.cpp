// Views share storage and index the same elements as the naive index arithmetic says.
#include "tests/test_util.h"

using namespace dsvd;

namespace {
// x[i][j][k] of a contiguous (2,3,4) arange tensor is 12 i + 4 j + k.
Tensor base234() { return arange(0.0, 24.0, 1.0, DType::Float64).reshape({2, 3, 4}); }
}  // namespace

TEST_CASE("views: reshape, view and flatten share storage and keep row-major order") {
  Tensor x = base234();
  Tensor v = x.view({6, 4});
  CHECK(v.shares_storage_with(x));
  CHECK(v.sizes() == Shape{6, 4});
  CHECK(x.reshape({-1}).numel() == 24);
  CHECK(x.flatten(1).sizes() == Shape{2, 12});
  CHECK_CLOSE(x.reshape({4, -1}).select(0, 3), std::vector<double>{18, 19, 20, 21, 22, 23});
  CHECK_THROWS_WITH_AS(x.view({5, 5}), doctest::Contains("invalid for a tensor of shape [2, 3, 4]"), Error);
  CHECK_THROWS_WITH_AS(x.transpose(0, 2).view({24}), doctest::Contains("not contiguous"), Error);
  // reshape of a non-contiguous tensor copies.
  Tensor r = x.transpose(0, 2).reshape({24});
  CHECK(!r.shares_storage_with(x));
  CHECK(r.select(0, 0).item<int>() == 0);
  CHECK(r.select(0, 1).item<int>() == 12);  // (4,3,2) order: element [0][0][1] is x[1][0][0]
}

TEST_CASE("views: transpose and permute index like the naive formula") {
  Tensor x = base234();
  Tensor p = x.permute({2, 0, 1});  // p[k][i][j] = x[i][j][k]
  CHECK(p.sizes() == Shape{4, 2, 3});
  CHECK(p.shares_storage_with(x));
  std::vector<double> expected;
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) expected.push_back(12 * i + 4 * j + k);
  CHECK_CLOSE(p, expected);
  Tensor t = x.transpose(-1, 0);  // t[k][j][i]
  CHECK(t.sizes() == Shape{4, 3, 2});
  CHECK(t.select(0, 1).select(0, 2).select(0, 1).item() == 12 + 8 + 1);
  CHECK_THROWS_WITH_AS(x.permute({0, 0, 1}), doctest::Contains("repeats"), Error);
}

TEST_CASE("views: narrow, slice with step, select") {
  Tensor x = base234();
  Tensor n = x.narrow(2, 1, 2);  // k in {1,2}
  CHECK(n.sizes() == Shape{2, 3, 2});
  CHECK(n.shares_storage_with(x));
  CHECK_CLOSE(n.select(0, 1).select(0, 2), std::vector<double>{21, 22});
  CHECK_CLOSE(x.slice(2, 0, 4, 2).select(0, 0).select(0, 0), std::vector<double>{0, 2});
  CHECK_CLOSE(x.slice(1, -2, 100).select(0, 0).select(1, 0), std::vector<double>{4, 8});  // python semantics
  CHECK_CLOSE(x.select(1, -1).select(0, 0), std::vector<double>{8, 9, 10, 11});
  CHECK_THROWS_WITH_AS(x.narrow(2, 3, 2), doctest::Contains("exceeds dimension 2 of size 4"), Error);
  CHECK_THROWS_WITH_AS(x.select(0, 2), doctest::Contains("index 2 is out of range"), Error);
}

TEST_CASE("views: expand, squeeze and unsqueeze") {
  Tensor v = from_vector({1, 2, 3}, {3, 1});
  Tensor e = v.expand({2, 3, 4});
  CHECK(e.sizes() == Shape{2, 3, 4});
  CHECK(e.strides() == Shape{0, 1, 0});
  CHECK(e.shares_storage_with(v));
  CHECK_CLOSE(e.select(0, 1).select(0, 2), std::vector<double>{3, 3, 3, 3});
  CHECK(v.expand({-1, 5}).sizes() == Shape{3, 5});
  CHECK_THROWS_WITH_AS(v.expand({4, 4}), doctest::Contains("cannot expand shape [3, 1] to [4, 4]"), Error);

  Tensor s = zeros({1, 3, 1, 2});
  CHECK(s.squeeze().sizes() == Shape{3, 2});
  CHECK(s.squeeze(2).sizes() == Shape{1, 3, 2});
  CHECK(s.squeeze(1).sizes() == Shape{1, 3, 1, 2});  // not size 1: unchanged
  CHECK(s.unsqueeze(-1).sizes() == Shape{1, 3, 1, 2, 1});
  // squeeze/unsqueeze keep working on non-contiguous data.
  Tensor t = base234().transpose(0, 2).unsqueeze(1);  // (4,1,3,2)
  CHECK(t.sizes() == Shape{4, 1, 3, 2});
  CHECK(t.select(0, 3).select(0, 0).select(0, 1).select(0, 1).item() == 12 + 4 + 3);
  CHECK(t.squeeze(1).select(0, 3).select(0, 1).select(0, 1).item() == 19);
}
