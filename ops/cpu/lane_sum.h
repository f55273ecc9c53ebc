// Float64 sums in kLanes independent partial sums, for dsvd's own CPU loops (batch norm's
// statistics, the squared norm of a gradient list). One running sum is bound by the add's latency
// (about four cycles an element); with eight the loop vectorises and the adds overlap. Element i
// goes into lane i mod 8 and the lanes combine in a fixed order, so a sum depends neither on the
// thread count nor on the vector width (ops/cpu/multiversion.h).
#pragma once
#include <cstdint>

namespace dsvd::cpu {

struct Lanes {
  static constexpr int64_t kLanes = 8;
  double v[kLanes] = {};
  double total() const { return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])); }
};

// lanes += Σ term(i) over i < n, element i into lane i mod 8.
template <typename Term>
inline void add_terms(Lanes& lanes, int64_t n, Term term) {
  int64_t i = 0;
  for (; i + Lanes::kLanes <= n; i += Lanes::kLanes)
    for (int64_t k = 0; k < Lanes::kLanes; ++k) lanes.v[k] += term(i + k);
  for (int64_t k = 0; i < n; ++i, ++k) lanes.v[k] += term(i);
}

}  // namespace dsvd::cpu
