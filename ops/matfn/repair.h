// The overflow fixes of the reference implementation (docs/matrix-functions.md §4.3), made visible.
//
// For a tensor T (the whole batch at once, not per sample):
//   Φ₊(T): if any entry is +inf, every +inf becomes max{T_k : T_k ≠ +inf}
//   Φ₋(T): then, if any entry is −inf, every −inf becomes min{T_k : T_k ≠ −inf}
//   Φ = Φ₋∘Φ₊. max and min propagate NaN as PyTorch's do: with a NaN in T, an inf becomes NaN.
//   Φ_{nan→max}: the reference replaces NaN by max(T), which is NaN itself: a no-op, kept as one.
//   Φ_{nan→0}(T): every NaN becomes 0.
// Each fix counts the entries it changed into a RepairCounts under "<site>.<fix>", so a caller
// (svd_lab, the audit mode, metrics) can see how often the rule "saved" a step.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "tensor/tensor.h"

namespace dsvd {

struct RepairCounts {
  std::map<std::string, int64_t> entries;  // "K.+inf" -> number of entries replaced
  void add(const std::string& key, int64_t n) { entries[key] += n; }
  int64_t get(const std::string& key) const {
    auto it = entries.find(key);
    return it == entries.end() ? 0 : it->second;
  }
  int64_t total() const {
    int64_t t = 0;
    for (const auto& [k, v] : entries) t += v;
    return t;
  }
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
  double max_abs_k = 0;      // max |K̃| after the fixes, for the K-based rules
  int64_t backward_calls = 0;
};

// Φ in place on a contiguous float tensor; counts under site+".+inf" and site+".-inf".
void repair_infinities(Tensor& t, const std::string& site, RepairCounts* counts);
// Φ_{nan→0} in place; counts under site+".nan".
void repair_nan_to_zero(Tensor& t, const std::string& site, RepairCounts* counts);

}  // namespace dsvd
