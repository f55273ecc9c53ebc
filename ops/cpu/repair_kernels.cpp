// The CPU kernels of the reference's overflow repairs (ops/kernels/linalg.h, ops/matfn/repair.h).
#include <cmath>
#include <limits>

#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"

namespace dsvd::cpu {
namespace {

template <typename T>
int64_t replace_infinity(T* p, int64_t n, bool positive) {
  const T inf = positive ? std::numeric_limits<T>::infinity() : -std::numeric_limits<T>::infinity();
  int64_t count = 0;
  bool nan = false, have = false;
  T extreme = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (p[i] == inf) {
      ++count;
    } else if (std::isnan(p[i])) {
      nan = true;
    } else if (!have || (positive ? p[i] > extreme : p[i] < extreme)) {
      extreme = p[i];
      have = true;
    }
  }
  if (count == 0) return 0;
  // No other entry at all: the reference would fail on an empty max; the infinities stay.
  if (!have && !nan) return 0;
  const T replacement = nan ? std::numeric_limits<T>::quiet_NaN() : extreme;
  for (int64_t i = 0; i < n; ++i)
    if (p[i] == inf) p[i] = replacement;
  return count;
}

void replace_infinity_kernel(const Tensor& t, bool positive, const Tensor& count) {
  count.data<int64_t>()[0] += DSVD_DISPATCH_FLOATING(
      t.dtype(), "repair_infinities", [&] { return replace_infinity(t.data<scalar_t>(), t.numel(), positive); });
}

void replace_nan_with_zero(const Tensor& t, const Tensor& count) {
  count.data<int64_t>()[0] += DSVD_DISPATCH_FLOATING(t.dtype(), "repair_nan_to_zero", [&] {
    auto* p = t.data<scalar_t>();
    int64_t replaced = 0;
    for (int64_t i = 0; i < t.numel(); ++i)
      if (std::isnan(p[i])) {
        p[i] = 0;
        ++replaced;
      }
    return replaced;
  });
}

}  // namespace

DSVD_REGISTER_KERNEL(kernels::ReplaceInfinityKernel, CPU, replace_infinity_kernel);
DSVD_REGISTER_KERNEL(kernels::ReplaceNanWithZeroKernel, CPU, replace_nan_with_zero);

}  // namespace dsvd::cpu
