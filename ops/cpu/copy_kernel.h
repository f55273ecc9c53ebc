// copy_into(dst, src): element-wise copy between any two layouts of the same shape, converting
// the dtype if they differ. The one kernel behind contiguous(), clone(), to(dtype), cat and stack.
#pragma once
#include "tensor/tensor.h"

namespace dsvd::cpu {

void copy_into(const Tensor& dst, const Tensor& src);

}  // namespace dsvd::cpu
