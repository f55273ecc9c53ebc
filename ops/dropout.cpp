// dropout: y = x · mask / (1 − p) with mask_i ~ Bernoulli(1 − p) from the seeded generator in
// training; y = x in evaluation. Backward: g · mask / (1 − p) (from mul's).
#include "ops/internal.h"
#include "ops/nn_ops.h"

namespace dsvd {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  DSVD_CHECK(p >= 0 && p <= 1, "dropout: p must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  if (p == 1) return mul(x, 0.0);
  // The mask is drawn on the CPU from the counter-based generator (the same mask on every device
  // for a seed) and copied to the input's device.
  Tensor keep = ge(rand(x.sizes(), is_floating(x.dtype()) ? x.dtype() : DType::Float32, gen), p).to(x.device());
  return mul(x, mul(keep.to(x.dtype()), 1.0 / (1.0 - p)));
}

}  // namespace dsvd
