// matmul against a naive triple loop for every layout BLAS is handed (plain, transposed views,
// strided views that need a copy, broadcast batches), and gradchecks.
#include "tests/test_util.h"

using namespace dsvd;

using test::Fn;

namespace {

// Naive (B?, m, k) @ (B?, k, n) with numpy-style broadcasting of a missing or size-1 batch.
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b) {
  Tensor a3 = a.dim() == 2 ? a.unsqueeze(0) : a, b3 = b.dim() == 2 ? b.unsqueeze(0) : b;
  int64_t batch = std::max(a3.size(0), b3.size(0)), m = a3.size(1), k = a3.size(2), n = b3.size(2);
  std::vector<double> out;
  for (int64_t p = 0; p < batch; ++p) {
    Tensor ap = a3.select(0, a3.size(0) == 1 ? 0 : p), bp = b3.select(0, b3.size(0) == 1 ? 0 : p);
    auto va = to_vector(ap), vb = to_vector(bp);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t q = 0; q < k; ++q) s += va[size_t(i * k + q)] * vb[size_t(q * n + j)];
        out.push_back(s);
      }
  }
  return out;
}
}  // namespace

TEST_CASE("matmul: every operand layout gives the naive product") {
  Generator g(12);
  for (DType dt : {DType::Float64, DType::Float32}) {
    double tol = dt == DType::Float32 ? 2e-5 : 1e-12;
    Tensor a = randn({5, 7}, dt, &g), b = randn({7, 3}, dt, &g);
    Tensor at = randn({7, 5}, dt, &g).t(), bt = randn({3, 7}, dt, &g).t();    // transposed views
    Tensor as = randn({5, 14}, dt, &g).slice(1, 0, 14, 2);                     // column stride 2: copied
    Tensor row = randn({1, 7}, dt, &g), col = randn({7, 1}, dt, &g);
    CHECK(matmul(a, b).sizes() == Shape{5, 3});
    CHECK_CLOSE(matmul(a, b), naive_matmul(a, b), tol, tol);
    CHECK_CLOSE(matmul(at, b), naive_matmul(at, b), tol, tol);
    CHECK_CLOSE(matmul(a, bt), naive_matmul(a, bt), tol, tol);
    CHECK_CLOSE(matmul(at, bt), naive_matmul(at, bt), tol, tol);
    CHECK_CLOSE(matmul(as, bt), naive_matmul(as, bt), tol, tol);
    CHECK_CLOSE(matmul(row, col), naive_matmul(row, col), tol, tol);
    CHECK_CLOSE(matmul(col, row), naive_matmul(col, row), tol, tol);

    Tensor A = randn({4, 5, 6}, dt, &g), B = randn({4, 6, 2}, dt, &g);
    Tensor Bt = randn({4, 2, 6}, dt, &g).transpose(1, 2);
    Tensor B1 = randn({1, 6, 2}, dt, &g), M = randn({6, 2}, dt, &g);
    CHECK(matmul(A, B).sizes() == Shape{4, 5, 2});
    CHECK_CLOSE(matmul(A, B), naive_matmul(A, B), tol, tol);
    CHECK_CLOSE(matmul(A, Bt), naive_matmul(A, Bt), tol, tol);
    CHECK_CLOSE(matmul(A, B1), naive_matmul(A, B1), tol, tol);
    CHECK_CLOSE(matmul(A, M), naive_matmul(A, M), tol, tol);
    Tensor a2 = randn({5, 6}, dt, &g);
    CHECK(matmul(a2, B).sizes() == Shape{4, 5, 2});
    CHECK_CLOSE(matmul(a2, B), naive_matmul(a2, B), tol, tol);
  }
  // A large product crosses to the threaded BLAS path.
  Tensor big_a = randn({300, 200}, DType::Float64, &g), big_b = randn({200, 100}, DType::Float64, &g);
  CHECK_CLOSE(matmul(big_a, big_b), naive_matmul(big_a, big_b), 1e-11, 1e-11);
  CHECK(matmul(zeros({3, 0}), zeros({0, 2})).sizes() == Shape{3, 2});
  CHECK_CLOSE(matmul(ones({3, 0}), ones({0, 2})), std::vector<double>(6, 0));
}

TEST_CASE("matmul: errors name the shapes") {
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 3}), zeros({4, 2})), doctest::Contains("shapes [2, 3] and [4, 2] cannot be multiplied"), Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 3}), zeros({3, 2}, DType::Float64)), doctest::Contains("different dtypes"), Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({3}), zeros({3, 2})), doctest::Contains("2-D or 3-D"), Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 2, 3}), zeros({3, 3, 2})), doctest::Contains("batch sizes 2 and 3"), Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 2}, DType::Int64), zeros({2, 2}, DType::Int64)), doctest::Contains("float32 or float64"), Error);
}

TEST_CASE("matmul: gradcheck for 2-D, batched, broadcast and transposed operands") {
  Generator g(13);
  Tensor a = randn({3, 4}, DType::Float64, &g), b = randn({4, 2}, DType::Float64, &g);
  Tensor bt = randn({2, 4}, DType::Float64, &g).t();
  Tensor A = randn({2, 3, 4}, DType::Float64, &g), B = randn({2, 4, 5}, DType::Float64, &g);
  Tensor B1 = randn({1, 4, 5}, DType::Float64, &g);
  Fn mm = [](auto& in) { return matmul(in[0], in[1]); };
  CHECK_GRADCHECK(mm, {a, b});
  CHECK_GRADCHECK(mm, {a, bt});
  CHECK_GRADCHECK(mm, {A, B});
  CHECK_GRADCHECK(mm, {A, B1});
  CHECK_GRADCHECK(mm, {A, b});
  CHECK_GRADCHECK(mm, {a, B});
  CHECK_GRADCHECK(Fn([](auto& in) { return matmul(in[0], in[0].transpose(-1, -2)); }), {A});  // X Xᵀ
}
