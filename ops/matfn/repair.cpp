#include "ops/matfn/repair.h"

#include "ops/kernel_table.h"
#include "ops/kernels/linalg.h"
#include "ops/ops.h"

namespace dsvd {

Tensor RepairCounts::counter(const std::string& key, Device device) {
  auto it = counters_.find(key);
  if (it == counters_.end()) return counters_[key] = zeros({1}, DType::Int64, device);
  DSVD_CHECK(it->second.device() == device, "repair counts: '", key, "' is counted on ", it->second.device().str(),
             ", not on ", device.str());
  return it->second;
}

void RepairCounts::merge(const RepairCounts& other) {
  NoGradGuard no_grad;
  for (const auto& [key, count] : other.counters_) {
    Tensor mine = counter(key, count.device());
    copy_(mine, add(mine, count));
  }
}

int64_t RepairCounts::get(const std::string& key) const {
  auto it = counters_.find(key);
  return it == counters_.end() ? 0 : int64_t(it->second.item());
}

int64_t RepairCounts::total() const {
  int64_t t = 0;
  for (const auto& [key, count] : read()) t += count;
  return t;
}

Tensor RepairCounts::total_count(Device device) const {
  NoGradGuard no_grad;
  Tensor total = zeros({}, DType::Int64, device);
  for (const auto& [key, count] : counters_) total = add(total, count.reshape({}));
  return total;
}

std::map<std::string, int64_t> RepairCounts::read() const {
  std::map<std::string, int64_t> out;
  for (const auto& [key, count] : counters_) out[key] = int64_t(count.item());
  return out;
}

void MatfnReport::observe_k(const Tensor& k_tilde) {
  NoGradGuard no_grad;
  Tensor largest = max(abs(k_tilde)).to(DType::Float64);
  max_abs_k_ = max_abs_k_.defined() ? where(gt(largest, max_abs_k_), largest, max_abs_k_) : largest;
}

double MatfnReport::max_abs_k() const { return max_abs_k_.defined() ? max_abs_k_.item() : 0.0; }

void repair_infinities(Tensor& t, const std::string& site, RepairCounts* counts, const ReplicaMax& across_replicas) {
  DSVD_CHECK(t.is_contiguous(), "repair_infinities: expects a contiguous tensor");
  DSVD_CHECK(is_floating(t.dtype()) && !is_reduced_float(t.dtype()), "repair_infinities: expects float32 or float64, got ", dtype_name(t.dtype()));
  auto& scan = kernels::dispatch<kernels::InfinityScanKernel>(t.device());
  auto& replace = kernels::dispatch<kernels::ReplaceInfinityKernel>(t.device());
  RepairCounts unused;
  RepairCounts& c = counts ? *counts : unused;
  for (bool positive : {true, false}) {  // Φ₊ first: its replacements are seen by Φ₋'s scan
    Tensor summary = empty({3}, DType::Float64, t.device());
    scan(t, positive, summary);
    if (across_replicas) across_replicas(summary);
    replace(t, positive, summary, c.counter(site + (positive ? ".+inf" : ".-inf"), t.device()));
  }
}

void repair_nan_to_zero(Tensor& t, const std::string& site, RepairCounts* counts) {
  DSVD_CHECK(t.is_contiguous(), "repair_nan_to_zero: expects a contiguous tensor");
  DSVD_CHECK(is_floating(t.dtype()) && !is_reduced_float(t.dtype()), "repair_nan_to_zero: expects float32 or float64, got ", dtype_name(t.dtype()));
  RepairCounts unused;
  RepairCounts& c = counts ? *counts : unused;
  kernels::dispatch<kernels::ReplaceNanWithZeroKernel>(t.device())(t, c.counter(site + ".nan", t.device()));
}

}  // namespace dsvd
