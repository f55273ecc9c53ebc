// The CUDA backend's runtime queries (a CUDA build only): which devices exist, and a one-line
// summary for start-up banners. The rest of dsvd asks through tensor/device_backend.h
// (device_count, device_summary), which also answers in a build without CUDA.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace dsvd {

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  size_t total_memory = 0;
  int compute_major = 0, compute_minor = 0;
  int multiprocessors = 0;
};

bool cuda_built();  // compiled with the CUDA backend
// Number of usable CUDA devices; 0 without CUDA, driver or device, with the reason in *why_none.
int cuda_device_count(std::string* why_none = nullptr);
std::vector<CudaDeviceInfo> cuda_devices();
// "CUDA: 1 device(s): NVIDIA H100 (sm_90, 79.1 GiB); runtime 13.0, driver 13.0, cuDNN 9.19.0"
// or "CUDA: built without CUDA" / "CUDA: no device (<reason>)".
std::string cuda_summary();

// Round trip through the GPU for tests: y <- a*x + y computed by a CUDA kernel.
std::vector<float> cuda_axpy(float a, const std::vector<float>& x, const std::vector<float>& y);

}  // namespace dsvd
