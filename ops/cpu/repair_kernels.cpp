// The CPU kernels of the reference's overflow repairs (ops/kernels/linalg.h, ops/matfn/repair.h).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"

namespace dsvd::cpu {
namespace {

template <typename T>
void scan_infinity(const T* p, int64_t n, bool positive, double* summary) {
  const T inf = positive ? std::numeric_limits<T>::infinity() : -std::numeric_limits<T>::infinity();
  bool nan = false, have = false;
  double extreme = -std::numeric_limits<double>::infinity();  // oriented: max, or −min
  for (int64_t i = 0; i < n; ++i) {
    if (p[i] == inf) continue;
    if (std::isnan(p[i])) {
      nan = true;
      continue;
    }
    have = true;
    extreme = std::max(extreme, positive ? double(p[i]) : -double(p[i]));
  }
  summary[0] = nan;
  summary[1] = have;
  summary[2] = extreme;
}

template <typename T>
int64_t replace_infinity(T* p, int64_t n, bool positive, const double* summary) {
  // No other entry at all: the reference would fail on an empty max; the infinities stay.
  if (summary[0] == 0 && summary[1] == 0) return 0;
  const T inf = positive ? std::numeric_limits<T>::infinity() : -std::numeric_limits<T>::infinity();
  const T replacement = summary[0] != 0 ? std::numeric_limits<T>::quiet_NaN() : T(positive ? summary[2] : -summary[2]);
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i)
    if (p[i] == inf) {
      p[i] = replacement;
      ++count;
    }
  return count;
}

void infinity_scan_kernel(const Tensor& t, bool positive, const Tensor& summary) {
  DSVD_DISPATCH_FLOATING(t.dtype(), "repair_infinities",
                         [&] { scan_infinity(t.data<scalar_t>(), t.numel(), positive, summary.data<double>()); });
}

void replace_infinity_kernel(const Tensor& t, bool positive, const Tensor& summary, const Tensor& count) {
  count.data<int64_t>()[0] += DSVD_DISPATCH_FLOATING(t.dtype(), "repair_infinities", [&] {
    return replace_infinity(t.data<scalar_t>(), t.numel(), positive, summary.data<double>());
  });
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

DSVD_REGISTER_KERNEL(kernels::InfinityScanKernel, CPU, infinity_scan_kernel);
DSVD_REGISTER_KERNEL(kernels::ReplaceInfinityKernel, CPU, replace_infinity_kernel);
DSVD_REGISTER_KERNEL(kernels::ReplaceNanWithZeroKernel, CPU, replace_nan_with_zero);

}  // namespace dsvd::cpu
