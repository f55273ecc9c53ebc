// Kernel families of the element-wise ops (ops/unary.cpp, ops/binary.cpp, ops/select.cpp,
// ops/convert.cpp, ops/triangular.cpp). The formulas are in ops/math/elementwise.h; a device
// kernel only walks the elements. Outputs are allocated by the op; operands are already
// expanded to the output's shape (stride 0 on broadcast dimensions) and share one dtype unless
// said otherwise.
#pragma once
#include <cstdint>

#include "ops/math/elementwise.h"
#include "tensor/tensor.h"

namespace dsvd::kernels {

// dst <- src for any two layouts of one shape, converting the dtype; either may be on the CPU
// (dispatched on the other's device: a copy between the CPU and a device is the device's).
struct CopyKernel {
  static constexpr const char* name = "copy";
  using Fn = void(const Tensor& dst, const Tensor& src);
};

// out = f(in; p0, p1), same shape and dtype.
struct UnaryKernel {
  static constexpr const char* name = "unary";
  static constexpr unsigned float32_outputs = 1u << 1;  // ops/kernels/float32_compute.h
  using Fn = void(math::UnaryOp op, const Tensor& out, const Tensor& in, double p0, double p1);
};

// out = a (op) b; out has the operands' dtype, or uint8 for a comparison.
struct BinaryKernel {
  static constexpr const char* name = "binary";
  static constexpr unsigned float32_outputs = 1u << 1;  // ops/kernels/float32_compute.h
  using Fn = void(math::BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b);
};

// out = a (op) s, or s (op) a when scalar_first: a host number beside a device tensor (as in
// PyTorch), so that `x * 2.0` costs no copy to the device.
struct BinaryScalarKernel {
  static constexpr const char* name = "binary (tensor and number)";
  static constexpr unsigned float32_outputs = 1u << 1;  // ops/kernels/float32_compute.h
  using Fn = void(math::BinaryOp op, const Tensor& out, const Tensor& a, double s, bool scalar_first);
};

// ReLU's backward in one pass: out = math::relu_backward(result, grad), same shapes and dtype.
struct ReluBackwardKernel {
  static constexpr const char* name = "relu_backward";
  static constexpr unsigned float32_outputs = 1u << 0;  // ops/kernels/float32_compute.h
  using Fn = void(const Tensor& out, const Tensor& result, const Tensor& grad);
};

// out = mask ? a : b, mask uint8.
struct WhereKernel {
  static constexpr const char* name = "where";
  static constexpr unsigned float32_outputs = 1u << 0;  // ops/kernels/float32_compute.h
  using Fn = void(const Tensor& out, const Tensor& mask, const Tensor& a, const Tensor& b);
};

// out = math::polynomial(x, c, count), x contiguous, float dtypes.
struct PolynomialKernel {
  static constexpr const char* name = "polynomial";
  using Fn = void(const Tensor& out, const Tensor& x, const double* coefficients, int64_t count);
};

// triu_vec and its adjoint on (B, L) and (B, S) contiguous tensors: gather,
// out[b, l] = in[b, positions[l]]; scatter, out zeroed then out[b, positions[l]] = in[b, l].
// positions: int64 (L) on out's device.
struct GatherColumnsKernel {
  static constexpr const char* name = "triu_vec";
  using Fn = void(const Tensor& out, const Tensor& in, const Tensor& positions);
};
struct ScatterColumnsKernel {
  static constexpr const char* name = "triu_unvec";
  using Fn = void(const Tensor& out, const Tensor& in, const Tensor& positions);
};

}  // namespace dsvd::kernels
