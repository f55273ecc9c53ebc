// The CPU kernels of the element-wise families (ops/kernels/elementwise.h): loops over the
// formulas of ops/math/elementwise.h. Contiguous operands take loops the compiler vectorises;
// strided ones go through for_each_row (ops/cpu/loops.h). Above kParallelGrain elements the work
// is split over the OpenMP threads, each element written by one thread.
#include <algorithm>
#include <vector>

#include "ops/cpu/binary_kernels.h"
#include "ops/cpu/copy_kernel.h"
#include "ops/cpu/loops.h"
#include "ops/cpu/unary_kernels.h"
#include "ops/kernel_table.h"
#include "ops/kernels/elementwise.h"
#include "tensor/parallel.h"

namespace dsvd::cpu {
namespace {

// `t` laid out as `out` is (dense: contiguous, or channels-last when the op's input was), so that
// one linear loop visits matching elements of both: `t` itself when it already is, else an
// untracked copy (a kernel records nothing in the graph or the audit).
Tensor dense_like(const Tensor& t, const Tensor& out) {
  const MemoryFormat format = memory_format_of(out);
  DSVD_CHECK(is_dense_in(out, format), "element-wise CPU kernel: the output must be dense, got strides ",
             shape_str(out.strides()));
  if (is_dense_in(t, format)) return t;
  Tensor copy = empty(t.sizes(), t.dtype(), Device::cpu(), format);
  copy_into(copy, t);
  return copy;
}

void unary(math::UnaryOp op, const Tensor& out, const Tensor& in, double p0, double p1) {
  const Tensor x = dense_like(in, out);
  DSVD_DISPATCH_ALL(out.dtype(), "unary", [&] {
    using T = scalar_t;
    math::with_unary(op, [&](auto tag) {
      constexpr math::UnaryOp k = decltype(tag)::value;
      unary_kernel<T>(out, x, [p0, p1](T v) { return math::unary<k, T>(v, p0, p1); });
    });
  });
}

void binary(math::BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  DSVD_DISPATCH_ALL(a.dtype(), "binary", [&] {
    using T = scalar_t;
    math::with_binary(op, [&](auto tag) {
      constexpr math::BinaryOp k = decltype(tag)::value;
      if constexpr (math::is_comparison(k))
        binary_kernel<T, uint8_t>(out, a, b, [](T x, T y) { return math::binary<k, uint8_t>(x, y); });
      else
        binary_kernel<T, T>(out, a, b, [](T x, T y) { return math::binary<k, T>(x, y); });
    });
  });
}

void binary_scalar(math::BinaryOp op, const Tensor& out, const Tensor& a, double s, bool scalar_first) {
  Tensor number = scalar_tensor(s, a.dtype());
  Tensor broadcast = make_view(number, a.sizes(), Shape(a.sizes().size(), 0), 0);
  if (scalar_first) binary(op, out, broadcast, a);
  else binary(op, out, a, broadcast);
}

void relu_backward(const Tensor& out, const Tensor& result, const Tensor& grad) {
  const Tensor g = dense_like(grad, out), r = dense_like(result, out);
  const int64_t count = out.numel();
  DSVD_DISPATCH_ALL(out.dtype(), "relu_backward", [&] {
    const scalar_t* pr = r.data<scalar_t>();
    const scalar_t* pg = g.data<scalar_t>();
    scalar_t* px = out.data<scalar_t>();
    // both operands loaded unconditionally: a select the compiler vectorises, not a branch
    parallel_for(0, count, count > kParallelGrain, [&](int64_t i) { px[i] = math::relu_backward(pr[i], pg[i]); });
  });
}

void where(const Tensor& out, const Tensor& mask, const Tensor& a, const Tensor& b) {
  DSVD_DISPATCH_ALL(out.dtype(), "where", [&] {
    auto* po = out.data<scalar_t>();
    const auto* pm = static_cast<const uint8_t*>(mask.data_ptr());
    const auto* pa = static_cast<const scalar_t*>(a.data_ptr());
    const auto* pb = static_cast<const scalar_t*>(b.data_ptr());
    for_each_row<4>(out.sizes(), {&out.strides(), &mask.strides(), &a.strides(), &b.strides()},
                    [&](const std::array<int64_t, 4>& off, const std::array<int64_t, 4>& st, int64_t n) {
                      for (int64_t i = 0; i < n; ++i)
                        po[off[0] + i * st[0]] =
                            pm[off[1] + i * st[1]] ? pa[off[2] + i * st[2]] : pb[off[3] + i * st[3]];
                    });
  });
}

void polynomial(const Tensor& out, const Tensor& x, const double* coefficients, int64_t count) {
  const int64_t n = x.numel();
  DSVD_DISPATCH_FLOATING(x.dtype(), "polynomial", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    std::vector<scalar_t> c(coefficients, coefficients + count);
    // math::polynomial for blocks of kBlock elements with the element loop innermost: per element
    // the same operations in the same order (pw = 1, acc = c_0; pw *= r, acc += c_m·pw), but
    // independent lanes that the compiler vectorises instead of one latency-bound chain.
    constexpr int64_t kBlock = 64;
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    parallel_for(0, blocks, n * count > kParallelGrain, [&](int64_t block) {
      const int64_t first = block * kBlock, size = std::min(kBlock, n - first);
      const scalar_t* r = px + first;
      scalar_t pw[kBlock], acc[kBlock];
      for (int64_t j = 0; j < size; ++j) {
        pw[j] = 1;
        acc[j] = c[0];
      }
      for (size_t m = 1; m < c.size(); ++m) {
        const scalar_t cm = c[m];
        for (int64_t j = 0; j < size; ++j) {
          pw[j] *= r[j];
          acc[j] += cm * pw[j];
        }
      }
      for (int64_t j = 0; j < size; ++j) po[first + j] = acc[j];
    });
  });
}

void gather_columns(const Tensor& out, const Tensor& in, const Tensor& positions) {
  const int64_t batch = out.size(0), length = out.size(1), source = in.size(1);
  const int64_t* pos = positions.data<int64_t>();
  DSVD_DISPATCH_ALL(out.dtype(), "triu_vec", [&] {
    const auto* src = static_cast<const scalar_t*>(in.data_ptr());
    auto* dst = out.data<scalar_t>();
    parallel_for(0, batch, batch * length > kParallelGrain, [&](int64_t b) {
      for (int64_t l = 0; l < length; ++l) dst[b * length + l] = src[b * source + pos[l]];
    });
  });
}

void scatter_columns(const Tensor& out, const Tensor& in, const Tensor& positions) {
  const int64_t batch = in.size(0), length = in.size(1), target = out.size(1);
  const int64_t* pos = positions.data<int64_t>();
  DSVD_DISPATCH_ALL(out.dtype(), "triu_unvec", [&] {
    const auto* src = static_cast<const scalar_t*>(in.data_ptr());
    auto* dst = out.data<scalar_t>();
    std::fill(dst, dst + batch * target, scalar_t(0));
    parallel_for(0, batch, batch * length > kParallelGrain, [&](int64_t b) {
      for (int64_t l = 0; l < length; ++l) dst[b * target + pos[l]] = src[b * length + l];
    });
  });
}

}  // namespace

DSVD_REGISTER_KERNEL(kernels::CopyKernel, CPU, copy_into);
DSVD_REGISTER_KERNEL(kernels::UnaryKernel, CPU, unary);
DSVD_REGISTER_KERNEL(kernels::BinaryKernel, CPU, binary);
DSVD_REGISTER_KERNEL(kernels::BinaryScalarKernel, CPU, binary_scalar);
DSVD_REGISTER_KERNEL(kernels::ReluBackwardKernel, CPU, relu_backward);
DSVD_REGISTER_KERNEL(kernels::WhereKernel, CPU, where);
DSVD_REGISTER_KERNEL(kernels::PolynomialKernel, CPU, polynomial);
DSVD_REGISTER_KERNEL(kernels::GatherColumnsKernel, CPU, gather_columns);
DSVD_REGISTER_KERNEL(kernels::ScatterColumnsKernel, CPU, scatter_columns);

}  // namespace dsvd::cpu
