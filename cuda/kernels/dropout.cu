// Dropout on the GPU with the CPU's random numbers: the one Philox-4x32-10 of tensor/random.h,
// computed per block of 4 words and converted to uniforms by the same functions as rand() (float:
// 24 bits per word, 4 per block; double: 53 bits per word pair, 2 per block).
#include "cuda/context.h"
#include "cuda/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/nn.h"
#include "tensor/dtype.h"
#include "tensor/random.h"

namespace dsvd::cuda {
namespace {

// One thread per Philox block: 4 float elements or 2 double elements.
template <typename T>
__global__ void dropout_kernel(int64_t n, const T* in, T* out, uint64_t seed, uint64_t draw, const int64_t* draw_base,
                               T p, T scale) {
  if (draw_base) draw += uint64_t(*draw_base);
  constexpr int per_block = sizeof(T) == 4 ? 4 : 2;
  const int64_t blocks = (n + per_block - 1) / per_block;
  for (int64_t b = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; b < blocks; b += int64_t(gridDim.x) * blockDim.x) {
    const auto w = philox_block(seed, draw, uint64_t(b));
#pragma unroll
    for (int k = 0; k < per_block; ++k) {
      const int64_t i = b * per_block + k;
      if (i >= n) break;
      T u;
      if constexpr (sizeof(T) == 4) u = uniform_float(w[k]);
      else u = uniform_double(w[2 * k], w[2 * k + 1]);
      const T m = u >= p ? scale : T(0);
      out[i] = in[i] * m;
    }
  }
}

}  // namespace

void dropout_mask_multiply(const Tensor& out, const Tensor& in, uint64_t seed, uint64_t draw, double p,
                           const Tensor& draw_base) {
  const int64_t n = in.numel();
  if (n == 0) return;
  DSVD_CHECK(in.is_contiguous() && out.is_contiguous(), "dropout (CUDA): expects contiguous tensors");
  DSVD_DISPATCH_FLOATING(in.dtype(), "dropout", [&] {
    using T = scalar_t;
    const int64_t blocks = (n + (sizeof(T) == 4 ? 3 : 1)) / (sizeof(T) == 4 ? 4 : 2);
    dropout_kernel<T><<<blocks_for(blocks), kThreads, 0, context(in.device().index).stream>>>(
        n, static_cast<const T*>(in.data_ptr()), static_cast<T*>(out.data_ptr()), seed, draw,
        draw_base.defined() ? static_cast<const int64_t*>(draw_base.data_ptr()) : nullptr, T(p), T(1.0 / (1.0 - p)));
  });
  DSVD_CUDA_CHECK("dropout", cudaGetLastError());
}

DSVD_REGISTER_KERNEL(kernels::DropoutKernel, CUDA, dropout_mask_multiply);

}  // namespace dsvd::cuda
