// where(mask, a, b) and polynomial(x, c): element-wise helpers for the matrix functions' K̃
// builders, written once here so the builders read like their formulas.
//
// Backward of where: da = g·[mask], db = g·[not mask] (summed back over broadcast dims).
#include <algorithm>

#include "cuda/backend.h"
#include "ops/cpu/loops.h"
#include "ops/internal.h"

namespace dsvd {

namespace {

// where's operands on the mask's device; a 0-d CPU operand (a number) is copied there.
Tensor on_device_of(const Tensor& mask, const Tensor& t, const char* what) {
  if (t.device() == mask.device()) return t;
  DSVD_CHECK(t.dim() == 0 && t.device().is_cpu(), "where: ", what, " is on ", t.device().str(), ", the mask on ",
             mask.device().str());
  return t.detach().to(mask.device());
}

}  // namespace

Tensor where(const Tensor& mask, const Tensor& a_in, const Tensor& b_in) {
  DSVD_CHECK(mask.dtype() == DType::UInt8, "where: mask must be uint8 (from a comparison), got ", dtype_name(mask.dtype()));
  const Tensor a = on_device_of(mask, a_in, "the first operand");
  const Tensor b = on_device_of(mask, b_in, "the second operand");
  DType dtype = promote_types(a.dtype(), b.dtype());
  Shape shape = broadcast_shapes(broadcast_shapes(mask.sizes(), a.sizes(), "where"), b.sizes(), "where");
  Tensor m = detail::expand_raw(mask, shape, "where");
  Tensor ax = detail::expand_raw(detail::convert_raw(a, dtype), shape, "where");
  Tensor bx = detail::expand_raw(detail::convert_raw(b, dtype), shape, "where");
  Tensor out = empty(shape, dtype, mask.device());
  if (detail::on_cuda(mask)) cuda::where(out, m, ax, bx);
  else DSVD_DISPATCH_ALL(dtype, "where", [&] {
    auto* po = out.data<scalar_t>();
    const auto* pm = static_cast<const uint8_t*>(m.data_ptr());
    const auto* pa = static_cast<const scalar_t*>(ax.data_ptr());
    const auto* pb = static_cast<const scalar_t*>(bx.data_ptr());
    cpu::for_each_row<4>(shape, {&out.strides(), &m.strides(), &ax.strides(), &bx.strides()},
                         [&](const std::array<int64_t, 4>& off, const std::array<int64_t, 4>& st, int64_t n) {
                           for (int64_t i = 0; i < n; ++i)
                             po[off[0] + i * st[0]] =
                                 pm[off[1] + i * st[1]] ? pa[off[2] + i * st[2]] : pb[off[3] + i * st[3]];
                         });
  });
  Shape sa = a.sizes(), sb = b.sizes();
  DType da = a.dtype(), db = b.dtype();
  return record_op("where", {out}, {mask, a_in, b_in}, {{"mask", mask}},
                   [=](const std::vector<Tensor>& g, FunctionNode& n) {
                     const Tensor& keep = n.saved_tensor(0);
                     Tensor zero = zeros({}, g[0].dtype(), g[0].device());
                     Tensor ga, gb;
                     if (n.needs_input_grad(1)) ga = detail::grad_to(where(keep, g[0], zero), sa, da);
                     if (n.needs_input_grad(2)) gb = detail::grad_to(where(keep, zero, g[0]), sb, db);
                     return std::vector<Tensor>{Tensor(), ga, gb};
                   })[0];
}

Tensor polynomial(const Tensor& x, const std::vector<double>& coefficients) {
  DSVD_CHECK(!coefficients.empty(), "polynomial: no coefficients");
  Tensor in = detail::contiguous_raw(x);
  if (detail::on_cuda(x)) {
    DSVD_CHECK(is_floating(x.dtype()), "polynomial: expects float32 or float64, got ", dtype_name(x.dtype()));
    Tensor out = empty(x.sizes(), x.dtype(), x.device());
    cuda::polynomial(out, in, coefficients.data(), int64_t(coefficients.size()));
    return out;
  }
  Tensor out = empty(x.sizes(), x.dtype());
  const int64_t n = x.numel();
  DSVD_DISPATCH_FLOATING(x.dtype(), "polynomial", [&] {
    const scalar_t* px = in.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    std::vector<scalar_t> c(coefficients.begin(), coefficients.end());
    // Per element: pw = 1, acc = c_0; for m >= 1: pw *= r; acc += c_m·pw (ascending, explicit
    // powers: the reference's order, which decides the Padé tie value). Elements go in blocks of
    // kBlock with the element loop innermost: the same operations in the same order per element,
    // but independent lanes that the compiler vectorises, instead of one latency-bound chain.
    constexpr int64_t kBlock = 64;
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    parallel_for(0, blocks, n * int64_t(c.size()) > kParallelGrain, [&](int64_t block) {
      const int64_t first = block * kBlock, count = std::min(kBlock, n - first);
      const scalar_t* r = px + first;
      scalar_t pw[kBlock], acc[kBlock];
      for (int64_t j = 0; j < count; ++j) {
        pw[j] = 1;
        acc[j] = c[0];
      }
      for (size_t m = 1; m < c.size(); ++m) {
        const scalar_t cm = c[m];
        for (int64_t j = 0; j < count; ++j) {
          pw[j] *= r[j];
          acc[j] += cm * pw[j];
        }
      }
      for (int64_t j = 0; j < count; ++j) po[first + j] = acc[j];
    });
  });
  return out;
}

}  // namespace dsvd
