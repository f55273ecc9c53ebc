#include "ops/cpu/copy_kernel.h"

#include <cstring>

#include "ops/cpu/loops.h"

namespace dsvd::cpu {

void copy_into(const Tensor& dst, const Tensor& src) {
  DSVD_CHECK(dst.sizes() == src.sizes(), "copy: destination shape ", shape_str(dst.sizes()),
             " differs from source shape ", shape_str(src.sizes()));
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous()) {
    std::memcpy(dst.data_ptr(), src.data_ptr(), size_t(src.numel()) * itemsize(src.dtype()));
    return;
  }
  DSVD_DISPATCH_STORAGE(dst.dtype(), "copy", [&] {
    using out_t = scalar_t;
    auto* out = static_cast<out_t*>(dst.data_ptr());
    DSVD_DISPATCH_STORAGE(src.dtype(), "copy", [&] {
      const auto* in = static_cast<const scalar_t*>(src.data_ptr());
      for_each_row<2>(dst.sizes(), {&dst.strides(), &src.strides()},
                      [&](const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st, int64_t n) {
                        out_t* o = out + off[0];
                        const scalar_t* x = in + off[1];
                        if (st[0] == 1 && st[1] == 1) {
                          for (int64_t i = 0; i < n; ++i) o[i] = value_cast<out_t>(x[i]);
                        } else {
                          for (int64_t i = 0; i < n; ++i) o[i * st[0]] = value_cast<out_t>(x[i * st[1]]);
                        }
                      });
    });
  });
}

}  // namespace dsvd::cpu
