// The fused fast square roots on the CPU (ops/kernels/linalg.h): the steps of ops/math/fast_sqrt.h
// run by one thread per matrix with plain loops. The CPU's default path stays the composed ops of
// ops/matfn/fast_sqrt.cpp (their products run on BLAS and are faster than these loops): these
// kernels are the reference that the tests hold to the composed ops, the algorithm the CUDA
// kernels run with a thread block (cuda/kernels/fast_sqrt.cu).
#include <cmath>
#include <type_traits>
#include <vector>

#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"
#include "ops/math/fast_sqrt.h"
#include "tensor/parallel.h"

namespace dsvd::cpu {
namespace {

// The block of ops/math/fast_sqrt.h as one thread: loops in order, no barriers needed.
template <typename T>
struct SerialBlock {
  template <typename F>
  void for_each(int count, F f) {
    for (int e = 0; e < count; ++e) f(e);
  }
  void product(const T* a, const T* b, T* out, int n, T alpha, const T* c, T beta) {
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        T s = 0;
        for (int k = 0; k < n; ++k) s += a[i * n + k] * b[k * n + j];
        out[i * n + j] = alpha * s + (c ? beta * c[i * n + j] : T(0));
      }
  }
  T sum_of_squares(const T* v, int count) {  // in double, as the CUDA block's
    double s = 0;
    for (int e = 0; e < count; ++e) s += double(v[e]) * double(v[e]);
    return T(s);
  }
  int pivot_row(const T* lhs, int col, int n) {
    int best = col;
    for (int r = col + 1; r < n; ++r)
      if (std::fabs(double(lhs[r * n + col])) > std::fabs(double(lhs[best * n + col]))) best = r;
    return best;
  }
};

// body(block, sample, offset, scratch) for every matrix of t's batch (dtype dispatched; in
// parallel over the matrices; five n×n matrices of scratch per thread).
template <typename F>
void each_matrix(const char* op, const Tensor& t, F&& body) {
  const int64_t batch = t.size(0), n = t.size(1);
  DSVD_DISPATCH_FLOATING(t.dtype(), op, [&] {
    using T = scalar_t;
    parallel_for(0, batch, batch > 1, [&](int64_t b) {
      thread_local std::vector<T> scratch;
      scratch.resize(size_t(5 * n * n));
      SerialBlock<T> block;
      body(block, b, size_t(b * n * n), scratch.data());
    });
  });
}

template <typename P>
using element_of = std::remove_pointer_t<P>;

void mtp_forward(const Tensor& a, const kernels::TaylorCoefficients& c, const Tensor& out, const Tensor& root_scale) {
  const int n = int(a.size(1));
  each_matrix("mtp_forward", a, [&](auto& block, int64_t b, size_t offset, auto* z) {
    using T = element_of<decltype(z)>;
    root_scale.data<T>()[b] =
        math::mtp_forward(block, a.data<T>() + offset, c.a, out.data<T>() + offset, z, z + n * n, z + 2 * n * n, n);
  });
}

void mpa_forward(const Tensor& a, const kernels::PadeCoefficients& c, bool inverse, const Tensor& out,
                 const Tensor& root_scale) {
  const int n = int(a.size(1));
  each_matrix("mpa_forward", a, [&](auto& block, int64_t b, size_t offset, auto* z) {
    using T = element_of<decltype(z)>;
    root_scale.data<T>()[b] = math::mpa_forward(block, a.data<T>() + offset, c.p, c.q, inverse, out.data<T>() + offset,
                                                z, z + n * n, z + 2 * n * n, z + 3 * n * n, z + 4 * n * n, n);
  });
}

void lyapunov_sign(const Tensor& y, const Tensor& g, const Tensor& root_scale, int iterations, const Tensor& x) {
  const int n = int(y.size(1));
  each_matrix("lyapunov_sign", y, [&](auto& block, int64_t b, size_t offset, auto* scratch) {
    using T = element_of<decltype(scratch)>;
    const T root = root_scale.data<T>()[b];
    T* bm = scratch;
    T* cm = x.data<T>() + offset;  // C lives in the output, where the iteration leaves ½·C_final
    for (size_t e = 0; e < size_t(n) * size_t(n); ++e) {
      bm[e] = y.data<T>()[offset + e] / root;
      cm[e] = g.data<T>()[offset + e] / root;
    }
    math::sign_iteration(block, bm, cm, scratch + n * n, scratch + 2 * n * n, scratch + 3 * n * n, n, iterations);
  });
}

}  // namespace

DSVD_REGISTER_KERNEL(kernels::MtpForwardKernel, CPU, mtp_forward);
DSVD_REGISTER_KERNEL(kernels::MpaForwardKernel, CPU, mpa_forward);
DSVD_REGISTER_KERNEL(kernels::LyapunovSignKernel, CPU, lyapunov_sign);

}  // namespace dsvd::cpu
