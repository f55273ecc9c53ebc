// Per-device streams and library handles (cuda/context.h).
#include "cuda/context.h"

#include <array>
#include <mutex>

#include "cuda/runtime.h"
#include "tensor/error.h"

namespace dsvd::cuda {

DeviceContext& context(int device) {
  static std::mutex mutex;
  static std::array<DeviceContext*, 16> contexts{};
  DSVD_CHECK(device >= 0 && device < int(contexts.size()), "cuda: device index ", device, " is out of range");
  std::lock_guard<std::mutex> lock(mutex);
  DeviceContext*& c = contexts[size_t(device)];
  if (!c) {
    int count = cuda_device_count();
    DSVD_CHECK(device < count, "cuda: device ", device, " does not exist (", count, " CUDA device(s) found)");
    auto* made = new DeviceContext;  // lives for the process: handles are torn down by the driver at exit
    made->device = device;
    DSVD_CUDA_CHECK("cuda context", cudaSetDevice(device));
    DSVD_CUDA_CHECK("cuda context", cudaStreamCreateWithFlags(&made->stream, cudaStreamNonBlocking));
    DSVD_CUBLAS_CHECK("cuda context", cublasCreate(&made->cublas));
    DSVD_CUBLAS_CHECK("cuda context", cublasSetStream(made->cublas, made->stream));
    // cuBLAS's workspace of our own, set after the stream (which resets it to cuBLAS's pool): the
    // memory every GEMM uses, also inside a recorded graph, is then fixed and allocated once, as
    // PyTorch does (32 MiB: cuBLAS's recommended size on Hopper).
    constexpr size_t kCublasWorkspace = size_t(32) << 20;
    DSVD_CUDA_CHECK("cuda context", cudaMalloc(&made->cublas_workspace, kCublasWorkspace));
    DSVD_CUBLAS_CHECK("cuda context", cublasSetWorkspace(made->cublas, made->cublas_workspace, kCublasWorkspace));
    DSVD_CUDNN_CHECK("cuda context", cudnnCreate(&made->cudnn));
    DSVD_CUDNN_CHECK("cuda context", cudnnSetStream(made->cudnn, made->stream));
    DSVD_CUSOLVER_CHECK("cuda context", cusolverDnCreate(&made->cusolver));
    DSVD_CUSOLVER_CHECK("cuda context", cusolverDnSetStream(made->cusolver, made->stream));
    c = made;
  } else {
    DSVD_CUDA_CHECK("cuda context", cudaSetDevice(device));
  }
  return *c;
}

DeviceGuard::DeviceGuard(int device) {
  DSVD_CUDA_CHECK("cuda device guard", cudaGetDevice(&previous_));
  if (previous_ != device) DSVD_CUDA_CHECK("cuda device guard", cudaSetDevice(device));
}

DeviceGuard::~DeviceGuard() { cudaSetDevice(previous_); }

}  // namespace dsvd::cuda
