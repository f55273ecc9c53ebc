// CPU kernel for element-wise binary ops over broadcast operands: out = f(a, b).
// `a` and `b` are already expanded to out's shape (stride 0 on broadcast dims) and share the
// input dtype; `out` may have another dtype (comparisons write uint8).
#pragma once
#include "ops/cpu/loops.h"
#include "tensor/tensor.h"

namespace dsvd::cpu {

template <typename in_t, typename out_t, typename F>
void binary_kernel(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
  auto* po = static_cast<out_t*>(out.data_ptr());
  const auto* pa = static_cast<const in_t*>(a.data_ptr());
  const auto* pb = static_cast<const in_t*>(b.data_ptr());
  for_each_row<3>(out.sizes(), {&out.strides(), &a.strides(), &b.strides()},
                  [&](const std::array<int64_t, 3>& off, const std::array<int64_t, 3>& st, int64_t n) {
                    out_t* o = po + off[0];
                    const in_t* x = pa + off[1];
                    const in_t* y = pb + off[2];
                    // The common layouts get loops the compiler vectorises.
                    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
                      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
                    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
                      const in_t yv = *y;
                      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
                    } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
                      const in_t xv = *x;
                      for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(x[i * st[1]], y[i * st[2]]);
                    }
                  });
}

}  // namespace dsvd::cpu
