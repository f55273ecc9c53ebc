// cuda/runtime.h for a build without the CUDA backend: no devices, and it says so.
#include "cuda/runtime.h"
#include "tensor/error.h"

namespace dsvd {

bool cuda_built() { return false; }

int cuda_device_count(std::string* why_none) {
  if (why_none) *why_none = "dsvd was built without CUDA (configure with -Dcuda=enabled on a machine with the toolkit)";
  return 0;
}

std::vector<CudaDeviceInfo> cuda_devices() { return {}; }

std::string cuda_summary() { return "CUDA: built without CUDA"; }

std::vector<float> cuda_axpy(float, const std::vector<float>&, const std::vector<float>&) {
  fail("cuda_axpy: dsvd was built without CUDA");
}

}  // namespace dsvd
