// Element-wise binary ops with numpy broadcasting: add, sub, mul, div, and comparisons.
//
// Backward (g = dL/dout, sum_to undoes broadcasting):
//   add: da = g,        db = g
//   sub: da = g,        db = -g
//   mul: da = g * b,    db = g * a
//   div: da = g / b,    db = -g * a / b^2
#include <cmath>

#include "cuda/backend.h"
#include "ops/cpu/binary_kernels.h"
#include "ops/internal.h"

namespace dsvd {
namespace {

enum class BinaryKind { Add, Sub, Mul, Div };

// A 0-d CPU tensor next to a CUDA tensor is a host number (as in PyTorch): true when `t` is one.
bool host_scalar_beside(const Tensor& t, const Tensor& other) {
  return t.device().is_cpu() && t.dim() == 0 && other.device().is_cuda();
}

void check_devices(const char* name, const Tensor& a, const Tensor& b) {
  DSVD_CHECK(a.defined() && b.defined(), name, ": an operand is an undefined tensor");
  DSVD_CHECK(a.device() == b.device() || host_scalar_beside(a, b) || host_scalar_beside(b, a), name,
             ": operands are on different devices (", a.device().str(), " and ", b.device().str(), ")");
}

// The CUDA path of an element-wise binary op (either operand may be a host scalar).
Tensor binary_on_cuda(const char* name, cuda::Binary op, DType dtype, DType out_dtype, const Tensor& a, const Tensor& b) {
  if (host_scalar_beside(b, a) || host_scalar_beside(a, b)) {
    const bool scalar_first = host_scalar_beside(a, b);
    const Tensor& t = scalar_first ? b : a;
    const double value = (scalar_first ? a : b).item();
    Tensor tx = detail::convert_raw(t, dtype);
    Tensor out = empty(t.sizes(), out_dtype, t.device());
    cuda::binary_scalar(op, out, tx, value, scalar_first);
    return out;
  }
  Shape shape = broadcast_shapes(a.sizes(), b.sizes(), name);
  Tensor ax = detail::expand_raw(detail::convert_raw(a, dtype), shape, name);
  Tensor bx = detail::expand_raw(detail::convert_raw(b, dtype), shape, name);
  Tensor out = empty(shape, out_dtype, a.device());
  cuda::binary(op, out, ax, bx);
  return out;
}

Tensor binary_forward(const char* name, BinaryKind kind, const Tensor& a, const Tensor& b) {
  check_devices(name, a, b);
  DType dtype = promote_types(a.dtype(), b.dtype());
  if (kind == BinaryKind::Div && !is_floating(dtype)) dtype = DType::Float32;  // true division
  if (detail::on_cuda(a) || detail::on_cuda(b)) {
    static constexpr cuda::Binary ops[] = {cuda::Binary::Add, cuda::Binary::Sub, cuda::Binary::Mul, cuda::Binary::Div};
    return binary_on_cuda(name, ops[int(kind)], dtype, dtype, a, b);
  }
  Shape shape = broadcast_shapes(a.sizes(), b.sizes(), name);
  Tensor ax = detail::expand_raw(detail::convert_raw(a, dtype), shape, name);
  Tensor bx = detail::expand_raw(detail::convert_raw(b, dtype), shape, name);
  Tensor out = empty(shape, dtype);
  DSVD_DISPATCH_ALL(dtype, name, [&] {
    using T = scalar_t;
    switch (kind) {
      case BinaryKind::Add: cpu::binary_kernel<T, T>(out, ax, bx, [](T x, T y) { return T(x + y); }); break;
      case BinaryKind::Sub: cpu::binary_kernel<T, T>(out, ax, bx, [](T x, T y) { return T(x - y); }); break;
      case BinaryKind::Mul: cpu::binary_kernel<T, T>(out, ax, bx, [](T x, T y) { return T(x * y); }); break;
      case BinaryKind::Div: cpu::binary_kernel<T, T>(out, ax, bx, [](T x, T y) { return T(x / y); }); break;
    }
  });
  return out;
}

template <typename Cmp>
Tensor compare(const char* name, cuda::Binary op, const Tensor& a, const Tensor& b, Cmp cmp) {
  check_devices(name, a, b);
  DType dtype = promote_types(a.dtype(), b.dtype());
  if (detail::on_cuda(a) || detail::on_cuda(b)) return binary_on_cuda(name, op, dtype, DType::UInt8, a, b);
  Shape shape = broadcast_shapes(a.sizes(), b.sizes(), name);
  Tensor ax = detail::expand_raw(detail::convert_raw(a, dtype), shape, name);
  Tensor bx = detail::expand_raw(detail::convert_raw(b, dtype), shape, name);
  Tensor out = empty(shape, DType::UInt8);
  DSVD_DISPATCH_ALL(dtype, name, [&] {
    cpu::binary_kernel<scalar_t, uint8_t>(out, ax, bx, [&](scalar_t x, scalar_t y) { return uint8_t(cmp(x, y)); });
  });
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("add", BinaryKind::Add, a, b);
  Shape sa = a.sizes(), sb = b.sizes();
  DType da = a.dtype(), db = b.dtype();
  return record_op("add", {out}, {a, b}, {}, [=](const std::vector<Tensor>& g, FunctionNode&) {
    return std::vector<Tensor>{detail::grad_to(g[0], sa, da), detail::grad_to(g[0], sb, db)};
  })[0];
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("sub", BinaryKind::Sub, a, b);
  Shape sa = a.sizes(), sb = b.sizes();
  DType da = a.dtype(), db = b.dtype();
  return record_op("sub", {out}, {a, b}, {}, [=](const std::vector<Tensor>& g, FunctionNode& n) {
    Tensor gb = n.needs_input_grad(1) ? detail::grad_to(neg(g[0]), sb, db) : Tensor();
    return std::vector<Tensor>{detail::grad_to(g[0], sa, da), gb};
  })[0];
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("mul", BinaryKind::Mul, a, b);
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
  Tensor out = binary_forward("div", BinaryKind::Div, a, b);
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

Tensor add(const Tensor& a, double b) { return add(a, detail::scalar_like(a, b)); }
Tensor sub(const Tensor& a, double b) { return sub(a, detail::scalar_like(a, b)); }
Tensor mul(const Tensor& a, double b) { return mul(a, detail::scalar_like(a, b)); }
Tensor div(const Tensor& a, double b) { return div(a, detail::scalar_like(a, b)); }
Tensor rsub(const Tensor& a, double b) { return sub(detail::scalar_like(a, b), a); }
Tensor rdiv(const Tensor& a, double b) { return div(detail::scalar_like(a, b), a); }

Tensor gt(const Tensor& a, double b) { return compare("gt", cuda::Binary::Gt, a, detail::scalar_like(a, b), [](auto x, auto y) { return x > y; }); }
Tensor ge(const Tensor& a, double b) { return compare("ge", cuda::Binary::Ge, a, detail::scalar_like(a, b), [](auto x, auto y) { return x >= y; }); }
Tensor lt(const Tensor& a, double b) { return compare("lt", cuda::Binary::Lt, a, detail::scalar_like(a, b), [](auto x, auto y) { return x < y; }); }
Tensor le(const Tensor& a, double b) { return compare("le", cuda::Binary::Le, a, detail::scalar_like(a, b), [](auto x, auto y) { return x <= y; }); }
Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", cuda::Binary::Eq, a, b, [](auto x, auto y) { return x == y; }); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", cuda::Binary::Gt, a, b, [](auto x, auto y) { return x > y; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", cuda::Binary::Ge, a, b, [](auto x, auto y) { return x >= y; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", cuda::Binary::Lt, a, b, [](auto x, auto y) { return x < y; }); }
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", cuda::Binary::Le, a, b, [](auto x, auto y) { return x <= y; }); }

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
