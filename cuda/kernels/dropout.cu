// Dropout on the GPU with the CPU's random numbers: Philox-4x32-10 (tensor/random.cpp) computed
// per block of 4 words, converted to uniforms exactly as rand() does (float: 24 bits per word,
// 4 per block; double: 53 bits per word pair, 2 per block).
#include "cuda/context.h"
#include "cuda/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/nn.h"
#include "tensor/dtype.h"

namespace dsvd::cuda {
namespace {

__device__ __forceinline__ void philox(uint64_t seed, uint64_t draw, uint64_t block, uint32_t (&c)[4]) {
  c[0] = uint32_t(block);
  c[1] = uint32_t(block >> 32);
  c[2] = uint32_t(draw);
  c[3] = uint32_t(draw >> 32);
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
#pragma unroll
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c[0];
    const uint64_t p1 = uint64_t(0xCD9E8D57u) * c[2];
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c[1] ^ k0, n1 = uint32_t(p1);
    const uint32_t n2 = uint32_t(p0 >> 32) ^ c[3] ^ k1, n3 = uint32_t(p0);
    c[0] = n0;
    c[1] = n1;
    c[2] = n2;
    c[3] = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

// One thread per Philox block: 4 float elements or 2 double elements.
template <typename T>
__global__ void dropout_kernel(int64_t n, const T* in, T* out, uint64_t seed, uint64_t draw, T p, T scale) {
  constexpr int per_block = sizeof(T) == 4 ? 4 : 2;
  const int64_t blocks = (n + per_block - 1) / per_block;
  for (int64_t b = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; b < blocks; b += int64_t(gridDim.x) * blockDim.x) {
    uint32_t w[4];
    philox(seed, draw, uint64_t(b), w);
#pragma unroll
    for (int k = 0; k < per_block; ++k) {
      const int64_t i = b * per_block + k;
      if (i >= n) break;
      T u;
      if constexpr (sizeof(T) == 4) u = T(w[k] >> 8) * (1.0f / 16777216.0f);
      else u = T(((uint64_t(w[2 * k]) << 32) | w[2 * k + 1]) >> 11) * (1.0 / 9007199254740992.0);
      const T m = u >= p ? scale : T(0);
      out[i] = in[i] * m;
    }
  }
}

}  // namespace

void dropout_mask_multiply(const Tensor& out, const Tensor& in, uint64_t seed, uint64_t draw, double p) {
  const int64_t n = in.numel();
  if (n == 0) return;
  DSVD_CHECK(in.is_contiguous() && out.is_contiguous(), "dropout (CUDA): expects contiguous tensors");
  DSVD_DISPATCH_FLOATING(in.dtype(), "dropout", [&] {
    using T = scalar_t;
    const int64_t blocks = (n + (sizeof(T) == 4 ? 3 : 1)) / (sizeof(T) == 4 ? 4 : 2);
    dropout_kernel<T><<<blocks_for(blocks), kThreads, 0, context(in.device().index).stream>>>(
        n, static_cast<const T*>(in.data_ptr()), static_cast<T*>(out.data_ptr()), seed, draw, T(p), T(1.0 / (1.0 - p)));
  });
  DSVD_CUDA_CHECK("dropout", cudaGetLastError());
}

DSVD_REGISTER_KERNEL(kernels::DropoutKernel, CUDA, dropout_mask_multiply);

}  // namespace dsvd::cuda
