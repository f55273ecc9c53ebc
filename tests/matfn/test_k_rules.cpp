// The K̃ builders on the tables of docs/matrix-functions.md §8 items 7 and 8, and the Padé constants.
#include "ops/matfn/repair.h"
#include "tests/matfn/matfn_test_util.h"

using namespace dsvd;
using namespace dsvd::test;

namespace {
// λ = [3, 2, 2, eps, eps] (one sample), optionally with a second sample.
Tensor tie_lambda(bool second_sample = false) {
  std::vector<double> v = {3, 2, 2, kEps64, kEps64};
  if (second_sample) v.insert(v.end(), {10, 4, 1, 0.5, 0.25});
  return from_vector(v, {second_sample ? 2 : 1, 5});
}
double at(const Tensor& k, int64_t i, int64_t j, int64_t b = 0) { return k.select(0, b).select(0, i).select(0, j).item(); }
Tensor fixed(Tensor k) {
  k = k.contiguous().clone();
  repair_infinities(k, "K", nullptr);
  return k;
}
}  // namespace

TEST_CASE("K rules: ties [3, 2, 2, eps, eps] (§8 item 7)") {
  Tensor lambda = tie_lambda();
  Tensor original = k_original(lambda);
  CHECK(std::isinf(at(original, 1, 2)));
  CHECK(at(original, 1, 2) > 0);
  CHECK(std::isinf(at(original, 3, 4)));
  Tensor of = fixed(original);
  CHECK(at(of, 1, 2) == 1.0);  // the largest finite K̃ in the batch, 1/(3 − 2)
  CHECK(at(of, 2, 1) == 1.0);
  CHECK(at(of, 3, 4) == 1.0);
  CHECK(at(of, 0, 1) == 1.0);
  CHECK(at(of, 0, 3) == doctest::Approx(1.0 / 3.0).epsilon(1e-15));
  CHECK(at(of, 0, 0) == 0.0);

  Tensor trunc = k_trunc(lambda);
  CHECK(at(trunc, 1, 2) == 1e10);
  CHECK(at(trunc, 2, 1) == 1e10);
  CHECK(at(trunc, 4, 3) == 1e10);
  CHECK(at(trunc, 0, 1) == 1.0);

  Tensor taylor = k_taylor(lambda);
  CHECK(at(taylor, 1, 2) == doctest::Approx(50.5).epsilon(1e-15));
  CHECK(at(taylor, 2, 1) == doctest::Approx(50.5).epsilon(1e-15));
  CHECK(at(taylor, 3, 4) == doctest::Approx(101.0 / kEps64).epsilon(1e-15));  // 4.5486e17
  CHECK(at(taylor, 3, 4) == doctest::Approx(4.5486e17).epsilon(1e-4));
  CHECK(at(taylor, 0, 1) == doctest::Approx(1.0).epsilon(1e-15));            // (1/3)·(1−(2/3)^101)/(1/3)
  CHECK(at(taylor, 1, 0) == doctest::Approx(-1.0).epsilon(1e-15));

  Tensor pade = k_pade(lambda);
  CHECK(std::isinf(at(pade, 1, 2)));
  CHECK(at(pade, 1, 2) < 0);
  CHECK(std::isinf(at(pade, 4, 3)));
  Tensor pf = fixed(pade);
  CHECK(at(pf, 1, 2) == doctest::Approx(-1.0).epsilon(1e-14));  // the most negative finite K̃ in the batch
  CHECK(at(pf, 3, 4) == at(pf, 1, 0));  // exactly that entry, K̃_10 ≈ −1
  CHECK(at(pf, 0, 1) == doctest::Approx(1.0).epsilon(1e-14));
  CHECK(at(pf, 0, 3) == doctest::Approx(1.0 / 3.0).epsilon(1e-14));
  CHECK(at(pf, 2, 2) == 0.0);
  // The fix is batch-wide: a second sample with a more negative entry changes the first's value.
  Tensor pf2 = fixed(k_pade(tie_lambda(true)));
  CHECK(at(pf2, 1, 2) == doctest::Approx(1.0 / (0.25 - 0.5)).epsilon(1e-13));  // −4, from sample 1
}

TEST_CASE("K rules: untied entries equal 1/(λi − λj) for every K rule") {
  Tensor lambda = from_vector({5, 2, 1, 0.5, 0.1}, {1, 5});
  auto l = to_vector(lambda);
  for (Tensor k : {k_original(lambda), k_trunc(lambda), k_pade(lambda), k_taylor(lambda)}) {
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 5; ++j) {
        double expected = i == j ? 0.0 : 1.0 / (l[size_t(i)] - l[size_t(j)]);
        double r = std::min(l[size_t(i)], l[size_t(j)]) / std::max(l[size_t(i)], l[size_t(j)]);
        // Taylor's relative error is r^101 (here r <= 0.5).
        CHECK(at(k, i, j) == doctest::Approx(expected).epsilon(std::max(1e-14, std::pow(r, 101) * 2)));
      }
  }
}

TEST_CASE("K rules: Padé constants and accuracy (§5.5, §8 item 8)") {
  const auto& p = pade_p();
  const auto& q = pade_q();
  CHECK(p[0] == 1.0);
  CHECK(q[0] == 1.0);
  for (size_t m = 1; m <= 50; ++m) CHECK(std::fabs(q[m] - (p[m] - p[m - 1])) <= 2e-16);
  // Q(1) accumulates to exactly +0.0 in ascending order; P(1) = −0.5490353894725477.
  double pw = 1, pp = p[0], qq = q[0];
  for (size_t m = 1; m <= 50; ++m) {
    pw *= 1.0;
    pp += p[m] * pw;
    qq += q[m] * pw;
  }
  CHECK(qq == 0.0);
  CHECK(!std::signbit(qq));
  CHECK(pp == doctest::Approx(-0.5490353894725477).epsilon(1e-15));
  // λmax·K̃ against 1/(1 − r) for a pair (1, r).
  auto relative_error = [](double r) {
    Tensor k = k_pade(from_vector({1.0, r}, {1, 2}));
    double got = at(k, 0, 1);
    return std::fabs(got - 1.0 / (1.0 - r)) / (1.0 / (1.0 - r));
  };
  for (double r : {0.1, 0.5, 0.9}) CHECK(relative_error(r) <= 1e-14);
  CHECK(relative_error(0.99) <= 2e-14);
  CHECK(relative_error(0.999) <= 5e-12);
  CHECK(relative_error(1 - 1e-8) <= 1e-7);
  CHECK(relative_error(1 - 1e-12) <= 1e-3);
  double last = relative_error(1 - std::ldexp(1.0, -52));
  CHECK(last == doctest::Approx(0.63).epsilon(0.05));
  CHECK(std::isfinite(at(k_pade(from_vector({1.0, 1 - std::ldexp(1.0, -52)}, {1, 2})), 0, 1)));
}

TEST_CASE("K rules: Taylor's error is r^101 / (1 − r) of λmax·K̃ (§5.4)") {
  for (double r : {0.9, 0.99, 0.999}) {
    double got = at(k_taylor(from_vector({1.0, r}, {1, 2})), 0, 1);
    double abs_error = std::fabs(got - 1.0 / (1.0 - r));
    CHECK(abs_error == doctest::Approx(std::pow(r, 101) / (1.0 - r)).epsilon(1e-9));
  }
  CHECK(std::pow(0.99, 101) / 0.01 == doctest::Approx(36.24).epsilon(1e-3));
}

TEST_CASE("repairs: Φ is batch-wide, propagates NaN, and counts what it changed") {
  Tensor t = from_vector({1, INFINITY, -2, -INFINITY, 5, INFINITY}, {2, 3});
  RepairCounts counts;
  repair_infinities(t, "K", &counts);
  CHECK_CLOSE(t, std::vector<double>{1, 5, -2, -2, 5, 5});
  CHECK(counts.get("K.+inf") == 2);
  CHECK(counts.get("K.-inf") == 1);
  Tensor n = from_vector({NAN, INFINITY, 3}, {3});
  repair_infinities(n, "x", &counts);
  CHECK(std::isnan(to_vector(n)[1]));  // max propagates NaN, as PyTorch's does
  repair_nan_to_zero(n, "x", &counts);
  CHECK_CLOSE(n, std::vector<double>{0, 0, 3});
  CHECK(counts.get("x.nan") == 2);
  CHECK(counts.total() == 2 + 1 + 1 + 2);
}

TEST_CASE("repairs over replicas: the extremes of the global batch replace this rank's infinities") {
  // This rank's tensor; another rank holds {7, -9} (or a NaN). The ReplicaMax stands for the
  // all-reduce: it maxes each summary with the one the other rank's tensor would give, worked out
  // by hand ([NaN present, other entry present, largest entry or minus the smallest]).
  auto repaired = [](std::vector<double> other_positive, std::vector<double> other_negative, RepairCounts* counts) {
    Tensor t = from_vector({1, INFINITY, -2, -INFINITY}, {4});
    int calls = 0;
    ReplicaMax across = [&](const Tensor& summary) {
      REQUIRE(summary.dtype() == DType::Float64);
      REQUIRE(summary.numel() == 3);
      const auto& other = calls++ == 0 ? other_positive : other_negative;
      for (int64_t i = 0; i < 3; ++i) summary.data<double>()[i] = std::max(summary.data<double>()[i], other[size_t(i)]);
    };
    repair_infinities(t, "K", counts, across);
    CHECK(calls == 2);  // Φ₊ then Φ₋, one reduction each
    return to_vector(t);
  };
  RepairCounts counts;
  // Φ₊: +inf -> max(1, -2, 7) = 7 (the -inf is another entry); Φ₋: -inf -> min(1, 7, -2, -9) = -9.
  CHECK(repaired({0, 1, 7}, {0, 1, 9}, &counts) == std::vector<double>{1, 7, -2, -9});
  CHECK(counts.get("K.+inf") == 1);
  CHECK(counts.get("K.-inf") == 1);
  // Without the other rank: this rank's own extremes (the local scope).
  Tensor local = from_vector({1, INFINITY, -2, -INFINITY}, {4});
  repair_infinities(local, "K", nullptr);
  CHECK(to_vector(local) == std::vector<double>{1, 1, -2, -2});
  // A NaN anywhere in the global batch makes the replacement NaN, as max over the whole batch would.
  auto with_nan = repaired({1, 1, 7}, {1, 1, 9}, nullptr);
  CHECK(std::isnan(with_nan[1]));
  CHECK(std::isnan(with_nan[3]));
  // A rank of nothing but +inf still gets the other rank's maximum.
  Tensor only = from_vector({INFINITY, INFINITY}, {2});
  int call = 0;
  repair_infinities(only, "K", nullptr, [&](const Tensor& s) {
    if (call++ == 0) {
      CHECK(to_vector(s) == std::vector<double>{0, 0, -INFINITY});  // nothing else here
      s.data<double>()[1] = 1;
      s.data<double>()[2] = 3;
    }
  });
  CHECK(to_vector(only) == std::vector<double>{3, 3});
}
