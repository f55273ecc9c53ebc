// The overflow fixes of the reference implementation (docs/matrix-functions.md §4.3), made visible.
//
// For a tensor T (the whole batch at once, not per sample):
//   Φ₊(T): if any entry is +inf, every +inf becomes max{T_k : T_k ≠ +inf}
//   Φ₋(T): then, if any entry is −inf, every −inf becomes min{T_k : T_k ≠ −inf}
//   Φ = Φ₋∘Φ₊. max and min propagate NaN as PyTorch's do: with a NaN in T, an inf becomes NaN.
//   Φ_{nan→max}: the reference replaces NaN by max(T), which is NaN itself: a no-op, kept as one.
//   Φ_{nan→0}(T): every NaN becomes 0.
// "The whole batch" is this process's unless the caller passes a ReplicaMax: then the NaN flag
// and the extremes are those of the global batch of a data-parallel job (the reference's head
// sees the whole batch; --repair-scope global), while each rank replaces its own infinities.
// Each fix counts the entries it changed into a RepairCounts under "<site>.<fix>", so a caller
// (svd_lab, the audit mode, metrics) can see how often the rule "saved" a step.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "tensor/tensor.h"

namespace dsvd {

// How many entries each fix changed, per "<site>.<fix>" key ("K.+inf"). The counters live on the
// device of the repaired tensors and are added to there: counting never waits for the device.
// Reading them (get, total, read) does, and is meant for when the audit, the metrics or a
// report ask.
class RepairCounts {
 public:
  // The int64 (1) counter of `key` on `device`, created at zero.
  Tensor counter(const std::string& key, Device device);
  // Adds every counter of `other` to this one's (on the device, no read-back).
  void merge(const RepairCounts& other);
  int64_t get(const std::string& key) const;  // 0 for a key never counted
  int64_t total() const;
  // Every counter added up where they live, without reading them: an int64 scalar (zero on
  // `device` when nothing was counted).
  Tensor total_count(Device device) const;
  std::map<std::string, int64_t> read() const;  // every key counted so far

 private:
  std::map<std::string, Tensor> counters_;
};

// What one call of a matrix-function layer reports: the eigenvalues it used, the repairs its
// backward made, the largest |K̃|. Filled in by the forward and backward when the caller passes
// one in the options (svd_lab, the audit mode and training metrics read it).
struct MatfnReport {
  Tensor eigenvalues;        // (B, n) after the clamp (and TopN's modification); undefined for isqrt
  // The decomposition itself, before TopN and the clamp: |w| descending (B, n) and the smallest
  // signed eigenvalue (B); indefinite_samples() (symeig.h) finds the samples where Σ is indefinite
  // beyond rounding. Undefined for isqrt.
  Tensor eigenvalue_magnitudes, smallest_eigenvalues;
  RepairCounts repairs;      // accumulated over the backward calls
  int64_t backward_calls = 0;

  // max |K̃| after the fixes, over the backward calls of the K-based rules (0 before any):
  // kept on the device, read by max_abs_k().
  void observe_k(const Tensor& k_tilde);
  double max_abs_k() const;

 private:
  Tensor max_abs_k_;
};

// An in-place element-wise maximum over the replicas of a data-parallel job, of a float64 tensor
// on the repaired tensor's device (distributed/ provides one); empty: this process alone.
using ReplicaMax = std::function<void(const Tensor&)>;

// Φ in place on a contiguous float tensor; counts under site+".+inf" and site+".-inf". With
// across_replicas, every rank must call it for the same sites in the same order.
void repair_infinities(Tensor& t, const std::string& site, RepairCounts* counts,
                       const ReplicaMax& across_replicas = {});
// Φ_{nan→0} in place; counts under site+".nan".
void repair_nan_to_zero(Tensor& t, const std::string& site, RepairCounts* counts);

}  // namespace dsvd
