// dsvd_selfcheck: what dsvd found on this machine and whether its foundation computes correctly
// here. Prints the BLAS and CUDA set-up, then runs end-to-end checks on real numbers (matmul
// against a naive product, an autograd gradient against finite differences, the random
// generator's reproducibility, a .npy round trip) and the float32/float64 GEMM speed.
// Exit status 0 when every check passes.
#include <cmath>
#include <cstdio>
#include <unistd.h>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "apps/exit_on_error.h"
#include "apps/timing.h"
#include "ops/gradcheck.h"
#include "tensor/device_backend.h"
#include "dsvd_config.h"
#include "ops/cpu/blas_runtime.h"
#include "ops/ops.h"
#include "tensor/npy.h"
#include "tensor/random.h"

using namespace dsvd;

namespace {

int failures = 0;

std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", v);
  return buf;
}

void report(const char* what, bool ok, const std::string& detail) {
  std::printf("  [%s] %-44s %s\n", ok ? " ok " : "FAIL", what, detail.c_str());
  if (!ok) ++failures;
}

void check_matmul() {
  Generator g(1);
  Tensor a = randn({64, 48}, DType::Float64, &g), b = randn({48, 32}, DType::Float64, &g);
  auto va = to_vector(a), vb = to_vector(b), vc = to_vector(matmul(a, b.t().contiguous().t()));
  double worst = 0;
  for (int i = 0; i < 64; ++i)
    for (int j = 0; j < 32; ++j) {
      double s = 0;
      for (int k = 0; k < 48; ++k) s += va[size_t(i * 48 + k)] * vb[size_t(k * 32 + j)];
      worst = std::max(worst, std::fabs(s - vc[size_t(i * 32 + j)]));
    }
  report("matmul equals the naive product", worst < 1e-12, "max |diff| " + sci(worst));
}

void check_autograd() {
  // The covariance-pooling chain in miniature: sum(R ∘ triu_vec(X̄ X̄ᵀ / M)).
  Generator g(2);
  Tensor x = randn({2, 4, 6}, DType::Float64, &g);
  auto fn = [](const std::vector<Tensor>& in) {
    Tensor centred = sub(in[0], mean(in[0], {2}, true));
    return triu_vec(div(matmul(centred, centred.transpose(1, 2)), 6.0));
  };
  GradcheckResult r = gradcheck(fn, {x});
  report("autograd gradient equals finite differences", r.ok,
         r.ok ? "max |diff| " + sci(r.max_abs_error) + " over " + std::to_string(r.checked) + " elements"
              : r.message);
}

void check_random() {
  Generator g1(7), g2(7);
  bool same = to_vector(randn({1000}, DType::Float32, &g1)) == to_vector(randn({1000}, DType::Float32, &g2));
  report("same seed gives the same numbers", same, "Philox-4x32-10, seed 7");
}

void check_npy() {
  std::string path = (std::filesystem::temp_directory_path() / ("dsvd_selfcheck_" + std::to_string(getpid()) + ".npy")).string();
  Generator g(3);
  Tensor t = randn({3, 5}, DType::Float32, &g);
  save_npy(path, t);
  bool same = to_vector(load_npy(path)) == to_vector(t);
  std::filesystem::remove(path);
  report(".npy round trip", same, path);
}

void measure_gemm() {
  std::printf("\nGEMM speed through dsvd::matmul (median of 3):\n");
  for (DType dt : {DType::Float32, DType::Float64}) {
    for (int64_t n : {1024, 2048}) {
      Generator g(4);
      Tensor a = randn({n, n}, dt, &g), b = randn({n, n}, dt, &g);
      matmul(a, b);  // warm-up
      std::vector<double> times;
      for (int r = 0; r < 3; ++r) {
        double t0 = now_seconds();
        matmul(a, b);
        times.push_back(now_seconds() - t0);
      }
      double gflops = 2.0 * double(n) * double(n) * double(n) / median(times) / 1e9;
      std::printf("  %-8s n=%-5lld %7.1f GFLOP/s\n", dtype_name(dt), (long long)n, gflops);
    }
  }
}

}  // namespace

int main() {
  std::printf("dsvd %s self-check\n%s\n%s\n\n", DSVD_VERSION, blas_summary().c_str(), device_summary(Device::Kind::CUDA).c_str());
  try {
    check_matmul();
    check_autograd();
    check_random();
    check_npy();
    measure_gemm();
  } catch (const std::exception& e) {  // dsvd::Error, file system errors, anything else
    return exit_on_error("dsvd_selfcheck", e);
  }
  std::printf("\nself-check: %s\n", failures ? "FAILED" : "all checks passed");
  return failures ? 1 : 0;
}
