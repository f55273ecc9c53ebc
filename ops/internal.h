// Helpers shared by the op implementations (not part of the public API): untracked expansion and
// conversion, and the "gradient must come back in the input's dtype" rule.
#pragma once
#include <initializer_list>

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
// The same in `format`: `t` itself when already dense in it, else a copy laid out so.
Tensor contiguous_raw(const Tensor& t, MemoryFormat format);
// The output of an element-wise op on `operands`, uninitialised: channels-last when an operand of
// exactly `shape` is (memory_format_of), else contiguous. An output follows its input's layout,
// as in PyTorch, so that channels-last activations stay channels-last through ReLU, residual adds
// and dtype casts.
Tensor empty_following(const Shape& shape, DType dtype, Device device, std::initializer_list<Tensor> operands);
// Gradient `g` reduced to `shape` and cast to `dtype`.
Tensor grad_to(const Tensor& g, const Shape& shape, DType dtype);
// Python-style scalar operand: takes the tensor's dtype, or float32 for a fractional number
// applied to an integer tensor.
Tensor scalar_like(const Tensor& t, double value);

}  // namespace dsvd::detail
