// Autocast mode: the reduced-precision dtype (bfloat16 or float16) that mixed-precision ops run
// in, per thread, or none. AutocastScope sets it for a scope (the forward of a training step under
// --amp); AutocastScope(std::nullopt) turns it off (the covariance head, whose precision is never
// lowered). The backward pass always runs with it off: a backward op computes in the dtypes its
// forward saved. Which op runs in which dtype is the policy of ops/autocast.h.
#pragma once
#include <optional>

#include "tensor/dtype.h"

namespace dsvd {

std::optional<DType> autocast_dtype();
void set_autocast_dtype(std::optional<DType> dtype);

class AutocastScope {
 public:
  explicit AutocastScope(std::optional<DType> dtype);
  ~AutocastScope() { set_autocast_dtype(previous_); }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  std::optional<DType> previous_;
};

}  // namespace dsvd
