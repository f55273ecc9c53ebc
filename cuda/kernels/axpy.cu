// y <- a*x + y on the GPU: the smallest kernel that proves the CUDA build, the launch and both
// copies work; the CUDA test compares it with the CPU.
#include <vector>

#include "cuda/check.h"
#include "cuda/runtime.h"
#include "tensor/error.h"

namespace dsvd {
namespace {

__global__ void axpy_kernel(float a, const float* x, float* y, long long n) {
  long long i = blockIdx.x * 1ll * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

}  // namespace

std::vector<float> cuda_axpy(float a, const std::vector<float>& x, const std::vector<float>& y) {
  DSVD_CHECK(x.size() == y.size(), "cuda_axpy: x has ", x.size(), " elements, y has ", y.size());
  std::vector<float> out(y.size());
  if (x.empty()) return out;
  const size_t bytes = x.size() * sizeof(float);
  float *dx = nullptr, *dy = nullptr;
  DSVD_CUDA_CHECK("cuda_axpy", cudaMalloc(&dx, bytes));
  DSVD_CUDA_CHECK("cuda_axpy", cudaMalloc(&dy, bytes));
  DSVD_CUDA_CHECK("cuda_axpy", cudaMemcpy(dx, x.data(), bytes, cudaMemcpyHostToDevice));
  DSVD_CUDA_CHECK("cuda_axpy", cudaMemcpy(dy, y.data(), bytes, cudaMemcpyHostToDevice));
  const int threads = 256;
  const long long n = (long long)x.size();
  axpy_kernel<<<unsigned((n + threads - 1) / threads), threads>>>(a, dx, dy, n);
  DSVD_CUDA_CHECK("cuda_axpy", cudaGetLastError());
  DSVD_CUDA_CHECK("cuda_axpy", cudaMemcpy(out.data(), dy, bytes, cudaMemcpyDeviceToHost));
  DSVD_CUDA_CHECK("cuda_axpy", cudaFree(dx));
  DSVD_CUDA_CHECK("cuda_axpy", cudaFree(dy));
  return out;
}

}  // namespace dsvd
