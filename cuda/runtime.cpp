// The CUDA runtime queries of cuda/runtime.h, for a CUDA build.
#include "cuda/runtime.h"

#include <cstdio>
#include <sstream>

#include "cuda/check.h"

namespace dsvd {

bool cuda_built() { return true; }

int cuda_device_count(std::string* why_none) {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    if (why_none) *why_none = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
    cudaGetLastError();  // clear the sticky error so later calls are not confused by it
    return 0;
  }
  if (count == 0 && why_none) *why_none = "the CUDA runtime reports no devices";
  return count;
}

std::vector<CudaDeviceInfo> cuda_devices() {
  std::vector<CudaDeviceInfo> out;
  int count = cuda_device_count();
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    DSVD_CUDA_CHECK("cuda_devices", cudaGetDeviceProperties(&prop, i));
    out.push_back({i, prop.name, prop.totalGlobalMem, prop.major, prop.minor, prop.multiProcessorCount});
  }
  return out;
}

std::string cuda_summary() {
  std::ostringstream s;
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  size_t cudnn = cudnnGetVersion();
  std::string why;
  int count = cuda_device_count(&why);
  s << "CUDA: ";
  if (count == 0) {
    s << "no device (" << why << ")";
  } else {
    s << count << " device(s):";
    for (const auto& d : cuda_devices())
      s << " [" << d.index << "] " << d.name << " (sm_" << d.compute_major << d.compute_minor << ", "
        << double(d.total_memory) / double(1ull << 30) << " GiB)";
  }
  s << "; runtime " << runtime / 1000 << "." << (runtime % 1000) / 10 << ", driver " << driver / 1000 << "."
    << (driver % 1000) / 10 << ", cuDNN " << cudnn / 10000 << "." << (cudnn % 10000) / 100 << "." << cudnn % 100;
  return s.str();
}

}  // namespace dsvd
