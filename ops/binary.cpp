// Element-wise binary ops with numpy broadcasting: add, sub, mul, div, and comparisons.
//
// Backward (g = dL/dout, sum_to undoes broadcasting):
//   add: da = g,        db = g
//   sub: da = g,        db = -g
//   mul: da = g * b,    db = g * a
//   div: da = g / b,    db = -g * a / b^2
#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/float32_compute.h"
#include "ops/kernels/elementwise.h"

namespace dsvd {
namespace {

using math::BinaryOp;

// A 0-d CPU tensor next to a device tensor is a host number (as in PyTorch): true when `t` is one.
bool host_scalar_beside(const Tensor& t, const Tensor& other) {
  return t.device().is_cpu() && t.dim() == 0 && !other.device().is_cpu();
}

// out = a (op) b in `dtype` (out_dtype: dtype, or uint8 for a comparison), broadcast; either
// operand may be a host number beside a device tensor.
Tensor binary_forward(const char* name, BinaryOp op, DType dtype, DType out_dtype, const Tensor& a, const Tensor& b) {
  DSVD_CHECK(a.defined() && b.defined(), name, ": an operand is an undefined tensor");
  const bool a_number = host_scalar_beside(a, b), b_number = host_scalar_beside(b, a);
  DSVD_CHECK(a.device() == b.device() || a_number || b_number, name, ": operands are on different devices (",
             a.device().str(), " and ", b.device().str(), ")");
  if (a_number || b_number) {
    const Tensor& t = a_number ? b : a;
    const double value = (a_number ? a : b).item();
    Tensor tx = detail::convert_raw(t, dtype);
    Tensor out = detail::empty_following(t.sizes(), out_dtype, t.device(), {t});
    kernels::call<kernels::BinaryScalarKernel>(t.device(), op, out, tx, value, a_number);
    return out;
  }
  Shape shape = broadcast_shapes(a.sizes(), b.sizes(), name);
  Tensor ax = detail::expand_raw(detail::convert_raw(a, dtype), shape, name);
  Tensor bx = detail::expand_raw(detail::convert_raw(b, dtype), shape, name);
  Tensor out = detail::empty_following(shape, out_dtype, a.device(), {a, b});
  kernels::call<kernels::BinaryKernel>(a.device(), op, out, ax, bx);
  return out;
}

Tensor arithmetic(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  DSVD_CHECK(a.defined() && b.defined(), name, ": an operand is an undefined tensor");
  DType dtype = promote_types(a.dtype(), b.dtype());
  if (op == BinaryOp::Div && !is_floating(dtype)) dtype = DType::Float32;  // true division
  return binary_forward(name, op, dtype, dtype, a, b);
}

Tensor compare(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  DSVD_CHECK(a.defined() && b.defined(), name, ": an operand is an undefined tensor");
  return binary_forward(name, op, promote_types(a.dtype(), b.dtype()), DType::UInt8, a, b);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = arithmetic("add", BinaryOp::Add, a, b);
  Shape sa = a.sizes(), sb = b.sizes();
  DType da = a.dtype(), db = b.dtype();
  return record_op("add", {out}, {a, b}, {}, [=](const std::vector<Tensor>& g, FunctionNode&) {
    return std::vector<Tensor>{detail::grad_to(g[0], sa, da), detail::grad_to(g[0], sb, db)};
  })[0];
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = arithmetic("sub", BinaryOp::Sub, a, b);
  Shape sa = a.sizes(), sb = b.sizes();
  DType da = a.dtype(), db = b.dtype();
  return record_op("sub", {out}, {a, b}, {}, [=](const std::vector<Tensor>& g, FunctionNode& n) {
    Tensor gb = n.needs_input_grad(1) ? detail::grad_to(neg(g[0]), sb, db) : Tensor();
    return std::vector<Tensor>{detail::grad_to(g[0], sa, da), gb};
  })[0];
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = arithmetic("mul", BinaryOp::Mul, a, b);
  Shape sa = a.sizes(), sb = b.sizes();
  DType da = a.dtype(), db = b.dtype();
  return record_op("mul", {out}, {a, b}, {{"self", a}, {"other", b}},
                   [=](const std::vector<Tensor>& g, FunctionNode& n) {
                     Tensor ga, gb;
                     if (n.needs_input_grad(0)) ga = detail::grad_to(mul(g[0], n.saved_tensor(1)), sa, da);
                     if (n.needs_input_grad(1)) gb = detail::grad_to(mul(g[0], n.saved_tensor(0)), sb, db);
                     return std::vector<Tensor>{ga, gb};
                   })[0];
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = arithmetic("div", BinaryOp::Div, a, b);
  Shape sa = a.sizes(), sb = b.sizes();
  DType da = a.dtype(), db = b.dtype();
  return record_op("div", {out}, {a, b}, {{"self", a}, {"other", b}},
                   [=](const std::vector<Tensor>& g, FunctionNode& n) {
                     const Tensor& x = n.saved_tensor(0);
                     const Tensor& y = n.saved_tensor(1);
                     Tensor ga, gb;
                     if (n.needs_input_grad(0)) ga = detail::grad_to(div(g[0], y), sa, da);
                     if (n.needs_input_grad(1)) gb = detail::grad_to(neg(div(mul(g[0], x), mul(y, y))), sb, db);
                     return std::vector<Tensor>{ga, gb};
                   })[0];
}

Tensor sum_gradients(const Tensor& a, const Tensor& b) { return add(a, b); }

void add_(const Tensor& t, double value) {
  DSVD_CHECK(t.defined(), "add_: an undefined tensor");
  DSVD_CHECK(!t.requires_grad(), "add_: in place on a tensor that requires grad");
  kernels::call<kernels::BinaryScalarKernel>(t.device(), BinaryOp::Add, t, t, value, false);
}

Tensor add(const Tensor& a, double b) { return add(a, detail::scalar_like(a, b)); }
Tensor sub(const Tensor& a, double b) { return sub(a, detail::scalar_like(a, b)); }
Tensor mul(const Tensor& a, double b) { return mul(a, detail::scalar_like(a, b)); }
Tensor div(const Tensor& a, double b) { return div(a, detail::scalar_like(a, b)); }
Tensor rsub(const Tensor& a, double b) { return sub(detail::scalar_like(a, b), a); }
Tensor rdiv(const Tensor& a, double b) { return div(detail::scalar_like(a, b), a); }

Tensor gt(const Tensor& a, double b) { return compare("gt", BinaryOp::Gt, a, detail::scalar_like(a, b)); }
Tensor ge(const Tensor& a, double b) { return compare("ge", BinaryOp::Ge, a, detail::scalar_like(a, b)); }
Tensor lt(const Tensor& a, double b) { return compare("lt", BinaryOp::Lt, a, detail::scalar_like(a, b)); }
Tensor le(const Tensor& a, double b) { return compare("le", BinaryOp::Le, a, detail::scalar_like(a, b)); }
Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", BinaryOp::Eq, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", BinaryOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", BinaryOp::Ge, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", BinaryOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", BinaryOp::Le, a, b); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return rsub(b, a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return rdiv(b, a); }
Tensor operator-(const Tensor& a) { return neg(a); }

}  // namespace dsvd
