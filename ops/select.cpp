// where(mask, a, b) and polynomial(x, c): element-wise helpers for the matrix functions' K̃
// builders, written once here so the builders read like their formulas.
//
// Backward of where: da = g·[mask], db = g·[not mask] (summed back over broadcast dims).
#include <algorithm>

#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/float32_compute.h"
#include "ops/kernels/elementwise.h"

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
  Tensor out = detail::empty_following(shape, dtype, mask.device(), {a, b, mask});
  kernels::call<kernels::WhereKernel>(mask.device(), out, m, ax, bx);
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
  DSVD_CHECK(is_floating(x.dtype()), "polynomial: expects float32 or float64, got ", dtype_name(x.dtype()));
  Tensor in = detail::contiguous_raw(x);
  Tensor out = empty(x.sizes(), x.dtype(), x.device());
  kernels::dispatch<kernels::PolynomialKernel>(x.device())(out, in, coefficients.data(), int64_t(coefficients.size()));
  return out;
}

}  // namespace dsvd
