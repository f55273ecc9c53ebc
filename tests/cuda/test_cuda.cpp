// The CUDA runtime: device query everywhere; the kernel round trip only where a device exists
// (these cases are reported as skipped on a machine without one).
#include "dsvd_config.h"
#include "tensor/device_backend.h"
#include "tests/test_util.h"
#if DSVD_HAVE_CUDA
#include "cuda/runtime.h"  // cuda_devices, cuda_axpy: the CUDA backend's own runtime API
#endif

using namespace dsvd;

namespace {
bool has_device() { return device_count(Device::Kind::CUDA) > 0; }
}  // namespace

TEST_CASE("cuda: device query answers on any machine") {
  std::string why;
  int count = device_count(Device::Kind::CUDA, &why);
  CHECK(count >= 0);
  if (count == 0) {
    MESSAGE("no CUDA device: " << why);
    CHECK(!why.empty());
  }
#if DSVD_HAVE_CUDA
  CHECK(int(cuda_devices().size()) == count);
#endif
  CHECK(device_summary(Device::Kind::CUDA).rfind("CUDA: ", 0) == 0);
}

#if DSVD_HAVE_CUDA
TEST_CASE("cuda: axpy on the GPU equals the CPU result" * doctest::skip(!has_device())) {
  Generator g(16);
  auto x = to_vector(randn({100003}, DType::Float32, &g));
  auto y = to_vector(randn({100003}, DType::Float32, &g));
  std::vector<float> xf(x.begin(), x.end()), yf(y.begin(), y.end());
  std::vector<float> out = cuda_axpy(0.75f, xf, yf);
  double worst = 0;
  for (size_t i = 0; i < xf.size(); ++i) worst = std::max(worst, double(std::fabs(out[i] - (0.75f * xf[i] + yf[i]))));
  CHECK(worst <= 1e-6);
}
#endif
