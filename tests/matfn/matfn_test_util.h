// Helpers for the matrix-function tests: matrices with chosen spectra, the gradient of the
// layer's pieces for a given upstream gradient, and the exact Daleckii–Krein reference.
#pragma once
#include "ops/matfn/covariance.h"
#include "ops/matfn/k_rules.h"
#include "ops/matfn/sqrtm.h"
#include "ops/matfn/symeig.h"
#include "tests/test_util.h"

namespace dsvd::test {

// A random orthogonal n×n matrix (eigenvectors of a random symmetric matrix).
inline Tensor random_orthogonal(int64_t n, uint64_t seed) {
  Generator g(seed);
  Tensor a = randn({1, n, n}, DType::Float64, &g);
  return symeig_descending(add(a, a.transpose(1, 2))).vectors.select(0, 0).contiguous();
}

// Σ = V diag(λ) Vᵀ, (1, n, n).
inline Tensor matrix_with_spectrum(const Tensor& v, const std::vector<double>& lambda) {
  Tensor l = from_vector(lambda, {int64_t(lambda.size())});
  return matmul(mul(v, l.unsqueeze(0)), v.t()).unsqueeze(0).contiguous();
}

// ∂L/∂Σ as the meta-layer returns it (not symmetrised) for L = ⟨G, Q(Σ)⟩.
inline Tensor grad_sigma(const Tensor& sigma, const Tensor& grad_q, const MatrixSqrtOptions& options) {
  Tensor s = sigma.detach().clone().requires_grad_();
  Tensor q = sqrtm(s, options);
  q.backward(grad_q);
  return s.grad();
}

inline Tensor symmetrised(const Tensor& m) { return add(m, m.transpose(-1, -2)); }

// The exact V [S ∘ 1/(√λi + √λj)] Vᵀ for Σ = V diag(λ) Vᵀ and upstream G (batch of 1).
inline Tensor exact_symmetric_gradient(const Tensor& v, const std::vector<double>& lambda, const Tensor& g) {
  Tensor v3 = v.unsqueeze(0);
  Tensor cm = matmul(v3.transpose(1, 2), matmul(g, v3));
  Tensor s = add(cm, cm.transpose(1, 2));
  Tensor root = sqrt(from_vector(lambda, {1, int64_t(lambda.size())}));
  Tensor r = div(s, add(root.unsqueeze(2), root.unsqueeze(1)));
  return matmul(matmul(v3, r), v3.transpose(1, 2));
}

inline MatrixSqrtOptions method(SqrtMethod m) {
  MatrixSqrtOptions o;
  o.method = m;
  return o;
}

inline double max_abs(const Tensor& t) { return max(abs(t)).item(); }

}  // namespace dsvd::test
