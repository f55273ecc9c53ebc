// Helpers shared by the op implementations (not part of the public API): untracked expansion and
// conversion, and the "gradient must come back in the input's dtype" rule.
#pragma once
#include "autograd/function.h"
#include "ops/ops.h"

namespace dsvd::detail {

// A stride-0 view of `t` broadcast to `shape` (no autograd).
Tensor expand_raw(const Tensor& t, const Shape& shape, const char* op);
// `t` converted to `dtype` (no autograd); `t` itself when it already has it.
Tensor convert_raw(const Tensor& t, DType dtype);
// dst <- src element-wise (any layouts, dtype converted, any devices; no autograd).
void copy_raw(const Tensor& dst, const Tensor& src);
// A contiguous copy of `t`, or `t` itself when contiguous (no autograd).
Tensor contiguous_raw(const Tensor& t);
// Gradient `g` reduced to `shape` and cast to `dtype`.
Tensor grad_to(const Tensor& g, const Shape& shape, DType dtype);
// Python-style scalar operand: takes the tensor's dtype, or float32 for a fractional number
// applied to an integer tensor.
Tensor scalar_like(const Tensor& t, double value);

}  // namespace dsvd::detail
