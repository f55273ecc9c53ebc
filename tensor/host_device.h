// DSVD_HOST_DEVICE marks a function that compiles for the host and, under nvcc, for the GPU:
// the math that dsvd writes once for every device (ops/math/, the Philox generator).
#pragma once

#if defined(__CUDACC__)
#define DSVD_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define DSVD_HOST_DEVICE inline
#endif
