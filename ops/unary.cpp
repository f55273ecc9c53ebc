// Element-wise unary ops: the forward formulas are in ops/math/elementwise.h (one per device-
// neutral UnaryOp), the kernels in the table; the backward (g = dL/dout, r = out):
//   neg:     -g                     exp:     g * r
//   log:     g / x                  sqrt:    g / (2 r)
//   pow(p):  g * p * x^(p-1)        abs:     g * sign(x)   (0 at x = 0)
//   clamp:   g where min <= x <= max, 0 elsewhere
//   relu:    g where r > 0 or r is NaN (PyTorch's threshold_backward)   sigmoid: g * r * (1 - r)
//   tanh:    g * (1 - r^2)          sign:    no gradient
#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/float32_compute.h"
#include "ops/kernels/elementwise.h"

namespace dsvd {
namespace {

using math::UnaryOp;

// out = f(x) by the kernel of x's device; floating dtypes, or any signed dtype when `signed_ok`.
Tensor unary_forward(const char* name, UnaryOp op, const Tensor& x, bool signed_ok, double p0 = 0, double p1 = 0) {
  DSVD_CHECK(x.defined(), name, ": input is an undefined tensor");
  DSVD_CHECK(signed_ok ? x.dtype() != DType::UInt8 : is_floating(x.dtype()), name, ": not defined for ",
             dtype_name(x.dtype()), " tensors");
  Tensor out = detail::empty_following(x.sizes(), x.dtype(), x.device(), {x});
  kernels::call<kernels::UnaryKernel>(x.device(), op, out, x, p0, p1);
  return out;
}

using Grads = std::vector<Tensor>;

}  // namespace

Tensor neg(const Tensor& x) {
  Tensor out = unary_forward("neg", UnaryOp::Neg, x, true);
  return record_op("neg", {out}, {x}, {}, [](const Grads& g, FunctionNode&) { return Grads{neg(g[0])}; })[0];
}

Tensor exp(const Tensor& x) {
  Tensor out = unary_forward("exp", UnaryOp::Exp, x, false);
  return record_op("exp", {out}, {x}, {{"result", out}}, [](const Grads& g, FunctionNode& n) {
    return Grads{mul(g[0], n.saved_tensor(0))};
  })[0];
}

Tensor log(const Tensor& x) {
  Tensor out = unary_forward("log", UnaryOp::Log, x, false);
  return record_op("log", {out}, {x}, {{"self", x}}, [](const Grads& g, FunctionNode& n) {
    return Grads{div(g[0], n.saved_tensor(0))};
  })[0];
}

Tensor sqrt(const Tensor& x) {
  Tensor out = unary_forward("sqrt", UnaryOp::Sqrt, x, false);
  return record_op("sqrt", {out}, {x}, {{"result", out}}, [](const Grads& g, FunctionNode& n) {
    return Grads{div(g[0], mul(n.saved_tensor(0), 2.0))};
  })[0];
}

Tensor pow(const Tensor& x, double p) {
  Tensor out = unary_forward("pow", UnaryOp::Pow, x, false, p);
  return record_op("pow", {out}, {x}, {{"self", x}}, [p](const Grads& g, FunctionNode& n) {
    if (p == 0) return Grads{zeros_like(g[0])};
    return Grads{mul(g[0], mul(pow(n.saved_tensor(0), p - 1), p))};
  })[0];
}

Tensor sign(const Tensor& x) {
  // No record: the derivative is zero wherever it exists.
  return unary_forward("sign", UnaryOp::Sign, x, true);
}

Tensor abs(const Tensor& x) {
  Tensor out = unary_forward("abs", UnaryOp::Abs, x, true);
  return record_op("abs", {out}, {x}, {{"self", x}}, [](const Grads& g, FunctionNode& n) {
    return Grads{mul(g[0], sign(n.saved_tensor(0)))};
  })[0];
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  DSVD_CHECK(!(lo > hi), "clamp: min ", lo, " is greater than max ", hi);
  Tensor out = unary_forward("clamp", UnaryOp::Clamp, x, true, lo, hi);
  return record_op("clamp", {out}, {x}, {{"self", x}}, [lo, hi](const Grads& g, FunctionNode& n) {
    const Tensor& s = n.saved_tensor(0);
    Tensor inside = mul(ge(s, lo), le(s, hi));
    return Grads{mul(g[0], inside.to(g[0].dtype()))};
  })[0];
}

Tensor relu(const Tensor& x) {
  // NaN stays NaN (as in PyTorch), so the audit can find where a NaN starts.
Tensor out = unary_forward("relu", UnaryOp::Relu, x, true);
  return record_op("relu", {out}, {x}, {{"result", out}}, [](const Grads& g, FunctionNode& n) {
    // One fused pass: g where the result is positive or NaN, 0 where it is 0.
    const Tensor& r = n.saved_tensor(0);
    Tensor gx = detail::empty_following(r.sizes(), r.dtype(), r.device(), {r});
    kernels::call<kernels::ReluBackwardKernel>(r.device(), gx, r, g[0].to(r.dtype()));
    return Grads{gx};
  })[0];
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = unary_forward("sigmoid", UnaryOp::Sigmoid, x, false);
  return record_op("sigmoid", {out}, {x}, {{"result", out}}, [](const Grads& g, FunctionNode& n) {
    const Tensor& r = n.saved_tensor(0);
    return Grads{mul(g[0], mul(r, rsub(r, 1.0)))};
  })[0];
}

Tensor tanh(const Tensor& x) {
  Tensor out = unary_forward("tanh", UnaryOp::Tanh, x, false);
  return record_op("tanh", {out}, {x}, {{"result", out}}, [](const Grads& g, FunctionNode& n) {
    const Tensor& r = n.saved_tensor(0);
    return Grads{mul(g[0], rsub(mul(r, r), 1.0))};
  })[0];
}

}  // namespace dsvd
