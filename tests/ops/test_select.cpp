// where and polynomial (ops/select.cpp).
#include <cmath>

#include "ops/matfn/k_rules.h"
#include "tests/test_util.h"

using namespace dsvd;

namespace {

// The reference's accumulation, one element at a time: pw = 1, acc = c_0; pw *= r; acc += c_m·pw.
template <typename T>
T naive_polynomial(T r, const std::vector<double>& c) {
  T pw = 1, acc = T(c[0]);
  for (size_t m = 1; m < c.size(); ++m) {
    pw *= r;
    acc += T(c[m]) * pw;
  }
  return acc;
}

template <typename T>
void check_bitwise_against_naive(DType dtype) {
  std::vector<double> c(pade_q().begin(), pade_q().end());
  Generator gen(3);
  for (int64_t n : {1, 63, 64, 65, 200, 5000}) {  // partial blocks of the blocked loop, one thread and two
    Tensor r = rand({n}, dtype, &gen);
    Tensor y = polynomial(r, c);
    const T* pr = r.data<T>();
    const T* py = y.data<T>();
    int64_t mismatches = 0;
    for (int64_t i = 0; i < n; ++i) mismatches += py[i] != naive_polynomial<T>(pr[i], c);
    CHECK_MESSAGE(mismatches == 0, dtype_name(dtype), " n=", n);
  }
}

}  // namespace

TEST_CASE("polynomial: bit for bit the ascending explicit-power loop, float32 and float64") {
  check_bitwise_against_naive<float>(DType::Float32);
  check_bitwise_against_naive<double>(DType::Float64);
}

TEST_CASE("polynomial: the Padé denominator at r = 1 is +0 in float64 and -2^-23 in float32") {
  // numpy, float32 and float64 scalars in the same order (pw = pw*r; Q = Q + q_m*pw):
  // float64 Q(1) = 0.0, P(1) = -0.5490353894725477; float32 Q(1) = -1.1920929e-07, P(1) = -0.54903615.
  std::vector<double> p(pade_p().begin(), pade_p().end()), q(pade_q().begin(), pade_q().end());
  Tensor one64 = ones({3}, DType::Float64), one32 = ones({3}, DType::Float32);
  CHECK(polynomial(one64, q).data<double>()[2] == 0.0);
  CHECK(!std::signbit(polynomial(one64, q).data<double>()[0]));
  CHECK(polynomial(one64, p).data<double>()[1] == -0.5490353894725477);
  CHECK(polynomial(one32, q).data<float>()[0] == -std::ldexp(1.0f, -23));
  CHECK(polynomial(one32, p).data<float>()[0] == -0.54903615f);
}

TEST_CASE("where: picks a where the mask is set, b elsewhere, with broadcasting") {
  Tensor mask = from_vector({1, 0, 1}, {3}).to(DType::UInt8);
  Tensor a = from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::Float32);
  Tensor b = scalar_tensor(-1.0, DType::Float32);
  CHECK(to_vector(where(mask, a, b)) == std::vector<double>{1, -1, 3, 4, -1, 6});
}
