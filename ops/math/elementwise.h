// The element-wise math of dsvd, written once for every device: the formulas of the unary and
// binary ops and of the SGD update as functions that compile for the host (the CPU loops of
// ops/cpu/) and for the GPU (the CUDA kernels of cuda/kernels/, where nvcc sees __device__).
// A new element-wise op is one enum value and one `case` here, its entry point and backward in
// ops/unary.cpp or ops/binary.cpp, and its test; no device file changes.
//
// float uses the float functions (expf, ...): the double ones are slow on GPUs, and on the CPU
// std::exp(float) is expf already. Integer dtypes only reach the ops that accept them (neg, abs,
// sign, clamp, relu and the binary ops); the ops check dtypes before dispatching.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "tensor/host_device.h"

namespace dsvd::math {

// --- unary: y = f(x; p0, p1) -----------------------------------------------------------------
enum class UnaryOp { Neg, Exp, Log, Sqrt, Pow, Abs, Sign, Clamp, Relu, Sigmoid, Tanh };

template <typename T>
DSVD_HOST_DEVICE T exp_of(T v) {
  if constexpr (std::is_same_v<T, float>) return ::expf(v);
  else return T(::exp(double(v)));
}
template <typename T>
DSVD_HOST_DEVICE T log_of(T v) {
  if constexpr (std::is_same_v<T, float>) return ::logf(v);
  else return T(::log(double(v)));
}
template <typename T>
DSVD_HOST_DEVICE T sqrt_of(T v) {
  if constexpr (std::is_same_v<T, float>) return ::sqrtf(v);
  else return T(::sqrt(double(v)));
}
template <typename T>
DSVD_HOST_DEVICE T pow_of(T v, double p) {
  if constexpr (std::is_same_v<T, float>) return ::powf(v, float(p));
  else return T(::pow(double(v), p));
}
template <typename T>
DSVD_HOST_DEVICE T tanh_of(T v) {
  if constexpr (std::is_same_v<T, float>) return ::tanhf(v);
  else return T(::tanh(double(v)));
}

// Selects rather than branches where it can, so that the CPU loops vectorise; NaN stays NaN
// through abs, clamp and relu (`v <= 0` is false for NaN), so the audit finds where one starts.
template <UnaryOp op, typename T>
DSVD_HOST_DEVICE T unary(T v, double p0, double p1) {
  if constexpr (op == UnaryOp::Neg) return T(-v);
  else if constexpr (op == UnaryOp::Exp) return exp_of(v);
  else if constexpr (op == UnaryOp::Log) return log_of(v);
  else if constexpr (op == UnaryOp::Sqrt) return sqrt_of(v);
  else if constexpr (op == UnaryOp::Pow) return pow_of(v, p0);
  else if constexpr (op == UnaryOp::Abs) return v < T(0) ? T(-v) : v;
  else if constexpr (op == UnaryOp::Sign) return T((v > T(0)) - (v < T(0)));
  else if constexpr (op == UnaryOp::Clamp) {
    const T low = T(p0), high = T(p1);  // p0 = min, p1 = max
    T t = v < low ? low : v;
    t = t > high ? high : t;
    return v != v ? v : t;
  } else if constexpr (op == UnaryOp::Relu) return v <= T(0) ? T(0) : v;
  else if constexpr (op == UnaryOp::Sigmoid) {
    // split by sign so that exp never overflows: 1/(1+e^-v) for v >= 0, e^v/(1+e^v) below
    const T e = exp_of(v >= T(0) ? T(-v) : v);
    return v >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
  } else if constexpr (op == UnaryOp::Tanh) return tanh_of(v);
  else static_assert(op == UnaryOp::Neg, "unary: an op without a formula");
}

// Calls go(std::integral_constant<UnaryOp, op>{}) for the run-time `op`: one switch, then a loop
// specialised for that op (each device's kernel loops inside `go`).
template <typename Go>
inline void with_unary(UnaryOp op, Go&& go) {
  switch (op) {
    case UnaryOp::Neg: return go(std::integral_constant<UnaryOp, UnaryOp::Neg>{});
    case UnaryOp::Exp: return go(std::integral_constant<UnaryOp, UnaryOp::Exp>{});
    case UnaryOp::Log: return go(std::integral_constant<UnaryOp, UnaryOp::Log>{});
    case UnaryOp::Sqrt: return go(std::integral_constant<UnaryOp, UnaryOp::Sqrt>{});
    case UnaryOp::Pow: return go(std::integral_constant<UnaryOp, UnaryOp::Pow>{});
    case UnaryOp::Abs: return go(std::integral_constant<UnaryOp, UnaryOp::Abs>{});
    case UnaryOp::Sign: return go(std::integral_constant<UnaryOp, UnaryOp::Sign>{});
    case UnaryOp::Clamp: return go(std::integral_constant<UnaryOp, UnaryOp::Clamp>{});
    case UnaryOp::Relu: return go(std::integral_constant<UnaryOp, UnaryOp::Relu>{});
    case UnaryOp::Sigmoid: return go(std::integral_constant<UnaryOp, UnaryOp::Sigmoid>{});
    case UnaryOp::Tanh: return go(std::integral_constant<UnaryOp, UnaryOp::Tanh>{});
  }
}

// ReLU's backward in one pass (PyTorch's threshold_backward): g where the result is positive or
// NaN, 0 where it is 0.
template <typename T>
DSVD_HOST_DEVICE T relu_backward(T result, T grad) {
  return result <= T(0) ? T(0) : grad;
}

// --- binary: out = a (op) b; comparisons give 0/1 ------------------------------------------------
enum class BinaryOp { Add, Sub, Mul, Div, Gt, Ge, Lt, Le, Eq };

constexpr bool is_comparison(BinaryOp op) { return op >= BinaryOp::Gt; }

template <BinaryOp op, typename O, typename T>
DSVD_HOST_DEVICE O binary(T x, T y) {
  if constexpr (op == BinaryOp::Add) return O(x + y);
  else if constexpr (op == BinaryOp::Sub) return O(x - y);
  else if constexpr (op == BinaryOp::Mul) return O(x * y);
  else if constexpr (op == BinaryOp::Div) return O(x / y);
  else if constexpr (op == BinaryOp::Gt) return O(x > y);
  else if constexpr (op == BinaryOp::Ge) return O(x >= y);
  else if constexpr (op == BinaryOp::Lt) return O(x < y);
  else if constexpr (op == BinaryOp::Le) return O(x <= y);
  else if constexpr (op == BinaryOp::Eq) return O(x == y);
  else static_assert(op == BinaryOp::Add, "binary: an op without a formula");
}

template <typename Go>
inline void with_binary(BinaryOp op, Go&& go) {
  switch (op) {
    case BinaryOp::Add: return go(std::integral_constant<BinaryOp, BinaryOp::Add>{});
    case BinaryOp::Sub: return go(std::integral_constant<BinaryOp, BinaryOp::Sub>{});
    case BinaryOp::Mul: return go(std::integral_constant<BinaryOp, BinaryOp::Mul>{});
    case BinaryOp::Div: return go(std::integral_constant<BinaryOp, BinaryOp::Div>{});
    case BinaryOp::Gt: return go(std::integral_constant<BinaryOp, BinaryOp::Gt>{});
    case BinaryOp::Ge: return go(std::integral_constant<BinaryOp, BinaryOp::Ge>{});
    case BinaryOp::Lt: return go(std::integral_constant<BinaryOp, BinaryOp::Lt>{});
    case BinaryOp::Le: return go(std::integral_constant<BinaryOp, BinaryOp::Le>{});
    case BinaryOp::Eq: return go(std::integral_constant<BinaryOp, BinaryOp::Eq>{});
  }
}

// --- polynomial: Σ_k c_k x^k with explicit ascending powers (c_0 first) -------------------------
// pw = 1, acc = c_0; for m >= 1: pw *= x, acc += c_m·pw. The reference's order of operations,
// which decides the Padé rule's tie value (docs/matrix-functions.md).
template <typename T>
DSVD_HOST_DEVICE T polynomial(T x, const double* c, int count) {
  T pw = T(1), acc = T(c[0]);
  for (int m = 1; m < count; ++m) {
    pw *= x;
    acc += T(c[m]) * pw;
  }
  return acc;
}

// --- the SGD update of one element (PyTorch's torch.optim.SGD) --------------------------------
//   d = g + wd·w;  b = first ? d : μ·b + (1 − dampening)·d;  d = nesterov ? d + μ·b : b;  w -= lr·d
// (without momentum, no buffer: w -= lr·d).
template <typename T>
struct SgdStep {
  T lr, momentum, one_minus_dampening, weight_decay;
  bool nesterov, first, has_buffer;

  // The values read from device memory when the kernel runs (ops/optim.h, SgdDeviceScalars; null:
  // not given). lr = lr_value · factor, the product made in double as the host's; `started` zero
  // makes this the buffer's first update. Returns false when `skip` says to leave everything alone.
  DSVD_HOST_DEVICE bool read_device_scalars(const double* lr_value, double factor, const double* skip,
                                            const double* started) {
    if (skip && *skip != 0) return false;
    if (lr_value) lr = T(*lr_value * factor);
    if (started) first = *started == 0;
    return true;
  }

  DSVD_HOST_DEVICE void operator()(T& w, T g, T& b) const {
    T d = g;
    if (weight_decay != T(0)) d += weight_decay * w;
    if (has_buffer) {
      b = first ? d : momentum * b + one_minus_dampening * d;
      d = nesterov ? d + momentum * b : b;
    }
    w -= lr * d;
  }
};

template <typename T>
SgdStep<T> make_sgd_step(double lr, double momentum, double dampening, double weight_decay, bool nesterov, bool first,
                         bool has_buffer) {
  return {T(lr), T(momentum), T(1 - dampening), T(weight_decay), nesterov, first, has_buffer};
}

}  // namespace dsvd::math
