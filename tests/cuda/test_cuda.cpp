// The CUDA runtime: device query everywhere; the kernel round trip only where a device exists
// (these cases are reported as skipped on a machine without one).
#include "cuda/runtime.h"
#include "tests/test_util.h"

using namespace dsvd;

namespace {
bool has_device() { return cuda_device_count() > 0; }
}  // namespace

TEST_CASE("cuda: device query answers on any machine") {
  std::string why;
  int count = cuda_device_count(&why);
  CHECK(count >= 0);
  if (count == 0) {
    MESSAGE("no CUDA device: " << why);
    CHECK(!why.empty());
  }
  CHECK(int(cuda_devices().size()) == count);
  CHECK(cuda_summary().rfind("CUDA: ", 0) == 0);
}

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
