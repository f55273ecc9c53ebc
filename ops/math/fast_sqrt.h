// The fused fast square roots (ops/kernels/linalg.h MtpForwardKernel, MpaForwardKernel,
// LyapunovSignKernel), written once for every device: the steps of one matrix's forward and of
// its Lyapunov backward as functions of a "block" that owns the matrix. A block provides
//
//   for_each(count, f)   f(e) for every e in [0, count), then a barrier
//   product(a, b, out, n, alpha, c, beta)   out = alpha·(a·b) + beta·c (c may be out, a/b not),
//                        then a barrier
//   sum_of_squares(v, count)   Σ v², the same on every participant
//   pivot_row(lhs, col, n)     the row r >= col with the largest |lhs[r, col]| (the first of
//                        equals), the same on every participant
//
// The CUDA kernels run them with a thread block (cuda/kernels/fast_sqrt.cu: strided loops,
// __syncthreads, register-tiled products, a warp's shuffle for the pivot); the CPU kernels with
// one thread per matrix (ops/cpu/fast_sqrt_kernels.cpp), which the tests hold to the composed ops
// of ops/matfn/fast_sqrt.cpp and lyapunov.cpp. Matrices are row-major n×n arrays.
#pragma once
#include <cmath>

#include "tensor/host_device.h"

namespace dsvd::math {

// z <- I − A/s; returns s = ‖A‖_F.
template <typename Block, typename T>
DSVD_HOST_DEVICE T normalise(Block& block, const T* a, T* z, int n) {
  using std::sqrt;
  const T s = sqrt(block.sum_of_squares(a, n * n));
  block.for_each(n * n, [&](int e) { z[e] = (e / n == e % n ? T(1) : T(0)) - a[e] / s; });
  return s;
}

// Σ_{k<=degree} c_k Z^k by Horner's scheme (R = c_degree·I; R = R·Z + c_k·I), ping-ponging
// between r and t; returns the one holding the result.
template <typename Block, typename T>
DSVD_HOST_DEVICE T* horner(Block& block, const T* z, const double* c, int degree, T* r, T* t, int n) {
  block.for_each(n * n, [&](int e) { r[e] = e / n == e % n ? T(c[degree]) : T(0); });
  for (int k = degree - 1; k >= 0; --k) {
    block.product(r, z, t, n, T(1), static_cast<const T*>(nullptr), T(0));
    block.for_each(n, [&](int i) { t[i * n + i] += T(c[k]); });
    T* swap = r;
    r = t;
    t = swap;
  }
  return r;
}

// x <- lhs⁻¹·x in place (the n columns of x are right-hand sides), lhs overwritten: Gaussian
// elimination with partial pivoting (the multipliers of each column in `factors`, n entries),
// then back substitution. A zero pivot gives Inf/NaN, as a singular solve does.
template <typename Block, typename T>
DSVD_HOST_DEVICE void solve_in_place(Block& block, T* lhs, T* x, T* factors, int n) {
  for (int col = 0; col < n; ++col) {
    const int pivot = block.pivot_row(lhs, col, n);
    if (pivot != col)
      block.for_each(n, [&](int j) {
        T u = lhs[col * n + j];
        lhs[col * n + j] = lhs[pivot * n + j];
        lhs[pivot * n + j] = u;
        u = x[col * n + j];
        x[col * n + j] = x[pivot * n + j];
        x[pivot * n + j] = u;
      });
    block.for_each(n - col - 1, [&](int e) {
      const int r = col + 1 + e;
      factors[r] = lhs[r * n + col] / lhs[col * n + col];
    });
    block.for_each((n - col - 1) * n, [&](int e) {
      const int r = col + 1 + e / n, j = e % n;
      x[r * n + j] -= factors[r] * x[col * n + j];
      if (j > col) lhs[r * n + j] -= factors[r] * lhs[col * n + j];
    });
  }
  for (int row = n - 1; row >= 0; --row)
    block.for_each(n, [&](int j) {
      T s = x[row * n + j];
      for (int k = row + 1; k < n; ++k) s -= lhs[row * n + k] * x[k * n + j];
      x[row * n + j] = s / lhs[row * n + row];
    });
}

// MTP's forward: out <- √s·Σ_{k<=10} a_k Z^k, returns √s. Scratch: z, m1, m2 (n² each).
template <typename Block, typename T>
DSVD_HOST_DEVICE T mtp_forward(Block& block, const T* a, const double* coefficients, T* out, T* z, T* m1, T* m2, int n) {
  using std::sqrt;
  const T root = sqrt(normalise(block, a, z, n));
  const T* r = horner(block, z, coefficients, 10, m1, m2, n);
  block.for_each(n * n, [&](int e) { out[e] = r[e] * root; });
  return root;
}

// MPA's forward: out <- √s·Q(Z)⁻¹P(Z), or with `inverse` P(Z)⁻¹Q(Z)/√s; returns √s. Scratch: z,
// m1, m2, m3 (n² each) and factors (n).
template <typename Block, typename T>
DSVD_HOST_DEVICE T mpa_forward(Block& block, const T* a, const double* p_coefficients, const double* q_coefficients,
                               bool inverse, T* out, T* z, T* m1, T* m2, T* m3, T* factors, int n) {
  using std::sqrt;
  const T root = sqrt(normalise(block, a, z, n));
  T* p = horner(block, z, p_coefficients, 5, m1, m2, n);
  T* q = horner(block, z, q_coefficients, 5, m3, p == m1 ? m2 : m1, n);
  // sqrt: Q X = P; inverse: P X = Q (P and Q commute: both are polynomials in Z).
  T* lhs = inverse ? p : q;
  T* x = inverse ? q : p;
  solve_in_place(block, lhs, x, factors, n);
  block.for_each(n * n, [&](int e) { out[e] = inverse ? x[e] / root : x[e] * root; });
  return root;
}

// The Lyapunov backward's sign iteration (ops/matfn/lyapunov.h), `iterations` steps on b = B₀,
// c = C₀ in place, with C_k(3I − B_k²) written out as 3C − C·B²:
//   C_{k+1} = ½(3C − C·B² − B²·C + (B·C)·B),  B_{k+1} = ½(3B − B·B²).
// Leaves ½·C_final in c. Scratch: b2, bc, acc (n² each).
template <typename Block, typename T>
DSVD_HOST_DEVICE void sign_iteration(Block& block, T* b, T* c, T* b2, T* bc, T* acc, int n, int iterations) {
  const T* none = nullptr;
  for (int k = 0; k < iterations; ++k) {
    block.product(b, b, b2, n, T(1), none, T(0));     // B²
    block.product(b, c, bc, n, T(1), none, T(0));     // B·C
    block.product(c, b2, acc, n, T(-1), none, T(0));  // −C·B²
    block.product(b2, c, acc, n, T(-1), acc, T(1));   // − B²·C
    block.product(bc, b, acc, n, T(1), acc, T(1));    // + (B·C)·B
    block.for_each(n * n, [&](int e) { c[e] = T(0.5) * (T(3) * c[e] + acc[e]); });
    block.product(b, b2, bc, n, T(1), none, T(0));    // B·B² (B·C is not needed any more)
    block.for_each(n * n, [&](int e) { b[e] = T(0.5) * (T(3) * b[e] - bc[e]); });
  }
  block.for_each(n * n, [&](int e) { c[e] = T(0.5) * c[e]; });
}

}  // namespace dsvd::math
