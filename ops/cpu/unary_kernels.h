// CPU kernel for element-wise unary ops: out = f(x) over two buffers dense in one layout (element
// i of one is element i of the other), split across the OpenMP threads above kParallelGrain elements.
#pragma once
#include "ops/cpu/loops.h"
#include "tensor/parallel.h"
#include "tensor/tensor.h"

namespace dsvd::cpu {

template <typename T, typename F>
void unary_kernel(const Tensor& out, const Tensor& dense_in, F f) {
  T* o = static_cast<T*>(out.data_ptr());
  const T* x = static_cast<const T*>(dense_in.data_ptr());
  const int64_t n = out.numel();
  // parallel_for's per-thread serial loops vectorise (branches included); see tensor/parallel.h
  parallel_for(0, n, n > kParallelGrain, [&](int64_t i) { o[i] = f(x[i]); });
}

}  // namespace dsvd::cpu
