#include "ops/matfn/repair.h"

#include <cmath>
#include <limits>

#include "cuda/backend.h"

namespace dsvd {
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

// The same rule on a GPU tensor: scan, then replace, one sign after the other.
int64_t replace_infinity_cuda(const Tensor& t, bool positive) {
  cuda::InfinityScan scan = cuda::scan_infinity(t, positive);
  if (scan.count == 0 || (!scan.have && !scan.nan)) return 0;
  cuda::replace_infinity(t, positive, scan.nan ? std::numeric_limits<double>::quiet_NaN() : scan.extreme);
  return scan.count;
}

}  // namespace

void repair_infinities(Tensor& t, const std::string& site, RepairCounts* counts) {
  DSVD_CHECK(t.is_contiguous(), "repair_infinities: expects a contiguous tensor");
  if (t.device().is_cuda()) {
    int64_t plus = replace_infinity_cuda(t, true);
    int64_t minus = replace_infinity_cuda(t, false);
    if (counts) {
      counts->add(site + ".+inf", plus);
      counts->add(site + ".-inf", minus);
    }
    return;
  }
  DSVD_DISPATCH_FLOATING(t.dtype(), "repair_infinities", [&] {
    auto* p = t.data<scalar_t>();
    int64_t plus = replace_infinity(p, t.numel(), true);
    int64_t minus = replace_infinity(p, t.numel(), false);
    if (counts) {
      counts->add(site + ".+inf", plus);
      counts->add(site + ".-inf", minus);
    }
  });
}

void repair_nan_to_zero(Tensor& t, const std::string& site, RepairCounts* counts) {
  DSVD_CHECK(t.is_contiguous(), "repair_nan_to_zero: expects a contiguous tensor");
  if (t.device().is_cuda()) {
    int64_t count = cuda::replace_nan_with_zero(t);
    if (counts) counts->add(site + ".nan", count);
    return;
  }
  DSVD_DISPATCH_FLOATING(t.dtype(), "repair_nan_to_zero", [&] {
    auto* p = t.data<scalar_t>();
    int64_t count = 0;
    for (int64_t i = 0; i < t.numel(); ++i)
      if (std::isnan(p[i])) {
        p[i] = 0;
        ++count;
      }
    if (counts) counts->add(site + ".nan", count);
  });
}

}  // namespace dsvd
