// Per-device CUDA state for a CUDA build: one stream, and the cuBLAS, cuDNN and cuSOLVER handles
// bound to it, created on first use and kept for the life of the process.
#pragma once
#include "cuda/check.h"
#include "tensor/tensor.h"

namespace dsvd::cuda {

struct DeviceContext {
  int device = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  void* cublas_workspace = nullptr;  // cuBLAS's scratch memory, set once (recordable in graphs)
  cudnnHandle_t cudnn = nullptr;
  cusolverDnHandle_t cusolver = nullptr;
};

// The context of `device` (made current with cudaSetDevice). Throws when it does not exist.
DeviceContext& context(int device);

// Makes `device` current for the scope, restoring the previous device after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

// The stream of the device `t` lives on: where every kernel on t is queued.
inline cudaStream_t stream_of(const Tensor& t) { return context(t.device().index).stream; }

// Threads per block and the grid for `n` elements (capped; kernels loop grid-stride).
constexpr int kThreads = 256;
inline unsigned blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return unsigned(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));
}

}  // namespace dsvd::cuda
