#include "ops/matfn/repair.h"

#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"

namespace dsvd {

void repair_infinities(Tensor& t, const std::string& site, RepairCounts* counts) {
  DSVD_CHECK(t.is_contiguous(), "repair_infinities: expects a contiguous tensor");
  DSVD_CHECK(is_floating(t.dtype()), "repair_infinities: expects float32 or float64, got ", dtype_name(t.dtype()));
  auto& replace = kernels::dispatch<kernels::ReplaceInfinityKernel>(t.device());
  const int64_t plus = replace(t, true);
  const int64_t minus = replace(t, false);
  if (counts) {
    counts->add(site + ".+inf", plus);
    counts->add(site + ".-inf", minus);
  }
}

void repair_nan_to_zero(Tensor& t, const std::string& site, RepairCounts* counts) {
  DSVD_CHECK(t.is_contiguous(), "repair_nan_to_zero: expects a contiguous tensor");
  DSVD_CHECK(is_floating(t.dtype()), "repair_nan_to_zero: expects float32 or float64, got ", dtype_name(t.dtype()));
  const int64_t count = kernels::dispatch<kernels::ReplaceNanWithZeroKernel>(t.device())(t);
  if (counts) counts->add(site + ".nan", count);
}

}  // namespace dsvd
