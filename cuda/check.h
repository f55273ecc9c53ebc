// Error checks for every CUDA, cuBLAS, cuSOLVER and cuDNN call. A failure throws dsvd::Error
// naming the dsvd op, the library call as written, the library's error name and where it was:
//   DSVD_CUDA_CHECK("matmul", cudaMemcpyAsync(...));
// Only for translation units of a CUDA build.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <cusolverDn.h>

#include <string>

namespace dsvd::cuda {

const char* cusolver_status_name(cusolverStatus_t status);
const char* cublas_status_name(cublasStatus_t status);
[[noreturn]] void throw_cuda_error(const char* op, const char* library, const char* call, const std::string& what,
                                   const char* file, int line);

}  // namespace dsvd::cuda

#define DSVD_CUDA_CHECK(op, call)                                                                   \
  do {                                                                                              \
    cudaError_t dsvd_status_ = (call);                                                              \
    if (dsvd_status_ != cudaSuccess)                                                                \
      ::dsvd::cuda::throw_cuda_error(op, "CUDA", #call,                                             \
                                     std::string(cudaGetErrorName(dsvd_status_)) + ": " +           \
                                         cudaGetErrorString(dsvd_status_), __FILE__, __LINE__);      \
  } while (0)

#define DSVD_CUBLAS_CHECK(op, call)                                                                  \
  do {                                                                                              \
    cublasStatus_t dsvd_status_ = (call);                                                           \
    if (dsvd_status_ != CUBLAS_STATUS_SUCCESS)                                                      \
      ::dsvd::cuda::throw_cuda_error(op, "cuBLAS", #call, ::dsvd::cuda::cublas_status_name(dsvd_status_), \
                                     __FILE__, __LINE__);                                           \
  } while (0)

#define DSVD_CUSOLVER_CHECK(op, call)                                                                \
  do {                                                                                              \
    cusolverStatus_t dsvd_status_ = (call);                                                         \
    if (dsvd_status_ != CUSOLVER_STATUS_SUCCESS)                                                    \
      ::dsvd::cuda::throw_cuda_error(op, "cuSOLVER", #call,                                         \
                                     ::dsvd::cuda::cusolver_status_name(dsvd_status_), __FILE__, __LINE__); \
  } while (0)

#define DSVD_CUDNN_CHECK(op, call)                                                                   \
  do {                                                                                              \
    cudnnStatus_t dsvd_status_ = (call);                                                            \
    if (dsvd_status_ != CUDNN_STATUS_SUCCESS)                                                       \
      ::dsvd::cuda::throw_cuda_error(op, "cuDNN", #call, cudnnGetErrorString(dsvd_status_), __FILE__, __LINE__); \
  } while (0)
