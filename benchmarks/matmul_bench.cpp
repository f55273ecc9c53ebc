// matmul_bench: dsvd::matmul against a direct cblas_sgemm/cblas_dgemm call on the same BLAS, in
// the same run, for square products of size 256, 1024 and 2048.
//
// Both sides compute C = A·B on contiguous row-major operands; dsvd's side includes everything a
// user pays (checks, output allocation, dispatch), the direct side writes into a preallocated C.
// Rounds alternate dsvd / direct (the machine's two vCPUs are sometimes squeezed onto one core),
// each sample repeats the product until it lasts ~0.2 s, and the table shows medians.
// GFLOP/s counts 2 flops per multiply-add.
#include <cblas.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "apps/timing.h"
#include "ops/cpu/blas_runtime.h"
#include "ops/ops.h"
#include "tensor/random.h"

using namespace dsvd;

namespace {

// Seconds per call: repeat until the sample lasts at least min_seconds.
double time_per_call(const std::function<void()>& call, int reps) {
  double t0 = now_seconds();
  for (int r = 0; r < reps; ++r) call();
  return (now_seconds() - t0) / reps;
}

void direct_gemm(const Tensor& a, const Tensor& b, Tensor& c, int64_t n) {
  int ni = int(n);
  if (a.dtype() == DType::Float32)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, 1.0f, a.data<float>(), ni, b.data<float>(), ni,
                0.0f, c.data<float>(), ni);
  else
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, 1.0, a.data<double>(), ni, b.data<double>(), ni,
                0.0, c.data<double>(), ni);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 7;
  std::printf("matmul_bench: dsvd::matmul vs direct cblas gemm, square n x n, median of %d alternating rounds\n", rounds);
  std::printf("%s\n\n", blas_summary().c_str());
  std::printf("%-8s %6s %14s %14s %8s   %s\n", "dtype", "n", "dsvd GFLOP/s", "cblas GFLOP/s", "ratio", "target");
  bool all_ok = true;
  for (DType dt : {DType::Float32, DType::Float64}) {
    for (int64_t n : {256, 1024, 2048}) {
      Generator g(1);
      Tensor a = randn({n, n}, dt, &g), b = randn({n, n}, dt, &g), c = empty({n, n}, dt);
      const double flops = 2.0 * double(n) * double(n) * double(n);
      // Calibrate the repetitions so one sample takes about 0.2 s.
      double once = time_per_call([&] { direct_gemm(a, b, c, n); }, 1);
      int reps = std::max(1, int(0.2 / std::max(once, 1e-6)));
      std::vector<double> ours, theirs;
      for (int r = 0; r < rounds; ++r) {
        ours.push_back(flops / time_per_call([&] { matmul(a, b); }, reps) / 1e9);
        theirs.push_back(flops / time_per_call([&] { direct_gemm(a, b, c, n); }, reps) / 1e9);
      }
      // Same numbers on both paths (bit-identical: the same BLAS call).
      if (std::memcmp(matmul(a, b).data_ptr(), (direct_gemm(a, b, c, n), c.data_ptr()), size_t(n * n) * itemsize(dt)) != 0) {
        std::printf("error: dsvd::matmul and cblas disagree for %s n=%lld\n", dtype_name(dt), (long long)n);
        return 1;
      }
      double m_ours = median(ours), m_theirs = median(theirs), ratio = m_ours / m_theirs;
      std::string target;
      if (n >= 1024) {
        bool ratio_ok = ratio >= 0.95;
        target = std::string("ratio>=0.95 ") + (ratio_ok ? "ok" : "BELOW");
        all_ok &= ratio_ok;
        if (n == 2048) {
          double need = dt == DType::Float32 ? 180 : 90;
          bool speed_ok = m_ours >= need;
          target += ", >=" + std::to_string(int(need)) + " GFLOP/s " + (speed_ok ? "ok" : "BELOW");
          all_ok &= speed_ok;
        }
      }
      std::printf("%-8s %6lld %14.1f %14.1f %8.3f   %s\n", dtype_name(dt), (long long)n, m_ours, m_theirs, ratio,
                  target.c_str());
    }
  }
  std::printf("\n%s\n", all_ok ? "all targets met" : "some targets missed (see above)");
  return 0;
}
