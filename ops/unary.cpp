// Element-wise unary ops. Each forward is one line of math; each backward (g = dL/dout, r = out):
//   neg:     -g                     exp:     g * r
//   log:     g / x                  sqrt:    g / (2 r)
//   pow(p):  g * p * x^(p-1)        abs:     g * sign(x)   (0 at x = 0)
//   clamp:   g where min <= x <= max, 0 elsewhere
//   relu:    g where r > 0 or r is NaN (PyTorch's threshold_backward)   sigmoid: g * r * (1 - r)
//   tanh:    g * (1 - r^2)          sign:    no gradient
#include <cmath>

#include "cuda/backend.h"
#include "ops/cpu/unary_kernels.h"
#include "ops/internal.h"
#include "tensor/parallel.h"

namespace dsvd {
namespace {

// Runs f over x (float dtypes, or any signed dtype when `signed_ok`).
template <typename F>
Tensor unary_forward(const char* name, cuda::Unary op, const Tensor& x, bool signed_ok, F f, double p0 = 0, double p1 = 0) {
  DSVD_CHECK(x.defined(), name, ": input is an undefined tensor");
  if (detail::on_cuda(x)) {
    DSVD_CHECK(signed_ok ? x.dtype() != DType::UInt8 : is_floating(x.dtype()), name, ": not defined for ",
               dtype_name(x.dtype()), " tensors");
    Tensor out = empty(x.sizes(), x.dtype(), x.device());
    cuda::unary(op, out, x, p0, p1);
    return out;
  }
  Tensor in = detail::contiguous_raw(x);
  Tensor out = empty(x.sizes(), x.dtype());
  if (signed_ok) {
    DSVD_DISPATCH_SIGNED(x.dtype(), name, [&] { cpu::unary_kernel<scalar_t>(out, in, [&](scalar_t v) { return scalar_t(f(v)); }); });
  } else {
    DSVD_DISPATCH_FLOATING(x.dtype(), name, [&] { cpu::unary_kernel<scalar_t>(out, in, [&](scalar_t v) { return scalar_t(f(v)); }); });
  }
  return out;
}

using Grads = std::vector<Tensor>;

}  // namespace

Tensor neg(const Tensor& x) {
  Tensor out = unary_forward("neg", cuda::Unary::Neg, x, true, [](auto v) { return -v; });
  return record_op("neg", {out}, {x}, {}, [](const Grads& g, FunctionNode&) { return Grads{neg(g[0])}; })[0];
}

Tensor exp(const Tensor& x) {
  Tensor out = unary_forward("exp", cuda::Unary::Exp, x, false, [](auto v) { return std::exp(v); });
  return record_op("exp", {out}, {x}, {{"result", out}}, [](const Grads& g, FunctionNode& n) {
    return Grads{mul(g[0], n.saved_tensor(0))};
  })[0];
}

Tensor log(const Tensor& x) {
  Tensor out = unary_forward("log", cuda::Unary::Log, x, false, [](auto v) { return std::log(v); });
  return record_op("log", {out}, {x}, {{"self", x}}, [](const Grads& g, FunctionNode& n) {
    return Grads{div(g[0], n.saved_tensor(0))};
  })[0];
}

Tensor sqrt(const Tensor& x) {
  Tensor out = unary_forward("sqrt", cuda::Unary::Sqrt, x, false, [](auto v) { return std::sqrt(v); });
  return record_op("sqrt", {out}, {x}, {{"result", out}}, [](const Grads& g, FunctionNode& n) {
    return Grads{div(g[0], mul(n.saved_tensor(0), 2.0))};
  })[0];
}

Tensor pow(const Tensor& x, double p) {
  Tensor out = unary_forward("pow", cuda::Unary::Pow, x, false, [p](auto v) { return std::pow(v, decltype(v)(p)); }, p);
  return record_op("pow", {out}, {x}, {{"self", x}}, [p](const Grads& g, FunctionNode& n) {
    if (p == 0) return Grads{zeros_like(g[0])};
    return Grads{mul(g[0], mul(pow(n.saved_tensor(0), p - 1), p))};
  })[0];
}

Tensor sign(const Tensor& x) {
  // No record: the derivative is zero wherever it exists.
  return unary_forward("sign", cuda::Unary::Sign, x, true, [](auto v) { return decltype(v)((v > 0) - (v < 0)); });
}

Tensor abs(const Tensor& x) {
  Tensor out = unary_forward("abs", cuda::Unary::Abs, x, true, [](auto v) { return v < 0 ? -v : v; });
  return record_op("abs", {out}, {x}, {{"self", x}}, [](const Grads& g, FunctionNode& n) {
    return Grads{mul(g[0], sign(n.saved_tensor(0)))};
  })[0];
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  DSVD_CHECK(!(lo > hi), "clamp: min ", lo, " is greater than max ", hi);
  Tensor out = unary_forward("clamp", cuda::Unary::Clamp, x, true, [lo, hi](auto v) {
    using T = decltype(v);
    // selects, not branches (vectorised); NaN stays NaN
    const T low = T(lo), high = T(hi);
    T t = v < low ? low : v;
    t = t > high ? high : t;
    return v != v ? v : t;
  }, lo, hi);
  return record_op("clamp", {out}, {x}, {{"self", x}}, [lo, hi](const Grads& g, FunctionNode& n) {
    const Tensor& s = n.saved_tensor(0);
    Tensor inside = mul(ge(s, lo), le(s, hi));
    return Grads{mul(g[0], inside.to(g[0].dtype()))};
  })[0];
}

Tensor relu(const Tensor& x) {
  // NaN stays NaN (as in PyTorch), so the audit can find where a NaN starts: `v <= 0` is false for it.
  Tensor out = unary_forward("relu", cuda::Unary::Relu, x, true, [](auto v) { return v <= 0 ? decltype(v)(0) : v; });
  return record_op("relu", {out}, {x}, {{"result", out}}, [](const Grads& g, FunctionNode& n) {
    // One fused pass: g where the result is positive or NaN, 0 where it is 0.
    const Tensor& r = n.saved_tensor(0);
    if (detail::on_cuda(r)) {
      Tensor gx = empty(r.sizes(), r.dtype(), r.device());
      cuda::threshold_backward(gx, r, g[0].to(r.dtype()));
      return Grads{gx};
    }
    Tensor gy = detail::contiguous_raw(g[0].to(r.dtype()));
    Tensor gx = empty(r.sizes(), r.dtype());
    const int64_t count = r.numel();
    DSVD_DISPATCH_SIGNED(r.dtype(), "relu_backward", [&] {
      const scalar_t* pr = r.data<scalar_t>();
      const scalar_t* pg = gy.data<scalar_t>();
      scalar_t* px = gx.data<scalar_t>();
      // both operands loaded unconditionally: a select the compiler vectorises, not a branch
      parallel_for(0, count, count > kParallelGrain, [&](int64_t i) {
        const scalar_t g = pg[i];
        px[i] = pr[i] <= 0 ? scalar_t(0) : g;
      });
    });
    return Grads{gx};
  })[0];
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = unary_forward("sigmoid", cuda::Unary::Sigmoid, x, false, [](auto v) {
    using T = decltype(v);
    // Split by sign so exp never overflows.
    return v >= 0 ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v));
  });
  return record_op("sigmoid", {out}, {x}, {{"result", out}}, [](const Grads& g, FunctionNode& n) {
    const Tensor& r = n.saved_tensor(0);
    return Grads{mul(g[0], mul(r, rsub(r, 1.0)))};
  })[0];
}

Tensor tanh(const Tensor& x) {
  Tensor out = unary_forward("tanh", cuda::Unary::Tanh, x, false, [](auto v) { return std::tanh(v); });
  return record_op("tanh", {out}, {x}, {{"result", out}}, [](const Grads& g, FunctionNode& n) {
    const Tensor& r = n.saved_tensor(0);
    return Grads{mul(g[0], rsub(mul(r, r), 1.0))};
  })[0];
}

}  // namespace dsvd
