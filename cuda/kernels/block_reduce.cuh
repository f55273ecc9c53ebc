// The block-wide sum that dsvd's CUDA reductions share (row sums, the squared norm of a gradient
// list): a tree over the block's threads in shared memory, in a fixed order, so the result is the
// same on every run. For blocks of at most kThreads threads.
#pragma once
#include "cuda/context.h"

namespace dsvd::cuda {

// Sum of `v` over the block (every thread gets the result).
template <typename A>
__device__ A block_sum(A v) {
  __shared__ A shared[kThreads];
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
    __syncthreads();
  }
  A r = shared[0];
  __syncthreads();
  return r;
}

}  // namespace dsvd::cuda
