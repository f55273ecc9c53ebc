// The CPU kernel of dropout (ops/kernels/nn.h): the mask of draw `draw` computed from Philox
// block by block exactly as rand() fills it (tensor/factories.cpp), multiplied in; never stored.
#include <type_traits>

#include "ops/kernel_table.h"
#include "ops/kernels/nn.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

namespace dsvd::cpu {
namespace {

void dropout(const Tensor& out, const Tensor& in, uint64_t seed, uint64_t draw, double p, const Tensor& draw_base) {
  if (draw_base.defined()) draw += uint64_t(draw_base.data<int64_t>()[0]);
  const int64_t n = in.numel();
  DSVD_DISPATCH_FLOATING(in.dtype(), "dropout", [&] {
    using T = scalar_t;
    const T* x = in.data<T>();
    T* y = out.data<T>();
    const T threshold = T(p), scale = T(1.0 / (1.0 - p));
    // float: 4 uniforms per Philox block (24 bits each); double: 2 (53 bits each).
    constexpr int64_t per_block = std::is_same_v<T, float> ? 4 : 2;
    const int64_t blocks = (n + per_block - 1) / per_block;
    parallel_for(0, blocks, n > kParallelGrain, [&](int64_t b) {
      const auto w = philox_block(seed, draw, uint64_t(b));
      for (int64_t k = 0; k < per_block && b * per_block + k < n; ++k) {
        T u;
        if constexpr (std::is_same_v<T, float>) u = uniform_float(w[size_t(k)]);
        else u = uniform_double(w[size_t(2 * k)], w[size_t(2 * k + 1)]);
        const T m = u >= threshold ? scale : T(0);
        y[b * per_block + k] = x[b * per_block + k] * m;
      }
    });
  });
}

}  // namespace

DSVD_REGISTER_KERNEL(kernels::DropoutKernel, CPU, dropout);

}  // namespace dsvd::cpu
