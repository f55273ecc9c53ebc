// dropout: y = x · mask / (1 − p) with mask_i ~ Bernoulli(1 − p) from the seeded generator in
// training; y = x in evaluation. Backward: g · mask / (1 − p) (from mul's).
#include "cuda/backend.h"
#include "ops/internal.h"
#include "ops/nn_ops.h"

namespace dsvd {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  DSVD_CHECK(p >= 0 && p <= 1, "dropout: p must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  if (p == 1) return mul(x, 0.0);
  if (detail::on_cuda(x) && is_floating(x.dtype())) {
    // The CPU's mask for this draw, recomputed on the device in forward and backward: no mask
    // is copied or stored.
    Generator& g = gen ? *gen : default_generator();
    const uint64_t seed = g.seed(), draw = g.next_draw();
    Tensor in = detail::contiguous_raw(x);
    Tensor out = empty(x.sizes(), x.dtype(), x.device());
    cuda::dropout_mask_multiply(out, in, seed, draw, p);
    return record_op("dropout", {out}, {x}, {}, [seed, draw, p](const std::vector<Tensor>& g, FunctionNode&) {
      Tensor gy = detail::contiguous_raw(g[0]);
      Tensor gx = empty(gy.sizes(), gy.dtype(), gy.device());
      cuda::dropout_mask_multiply(gx, gy, seed, draw, p);
      return std::vector<Tensor>{gx};
    })[0];
  }
  // The mask is drawn on the CPU from the counter-based generator (the same mask on every device
  // for a seed) and copied to the input's device.
  Tensor keep = ge(rand(x.sizes(), is_floating(x.dtype()) ? x.dtype() : DType::Float32, gen), p).to(x.device());
  return mul(x, mul(keep.to(x.dtype()), 1.0 / (1.0 - p)));
}

}  // namespace dsvd
