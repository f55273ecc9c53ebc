// dropout: y = x · mask / (1 − p) with mask_i = [u_i >= p], u = rand(x's shape) of the seeded
// generator's next draw, in training; y = x in evaluation. The mask is a function of (seed,
// draw, i), so every device computes the same one, and forward and backward recompute it
// instead of storing it. Backward: g · mask / (1 − p). While a graph records, the draw is relative to
// a device counter that each replay sets (tensor/device_graph.h).
#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/float32_compute.h"
#include "ops/kernels/nn.h"
#include "ops/nn_ops.h"
#include "tensor/device_graph.h"

namespace dsvd {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  DSVD_CHECK(p >= 0 && p <= 1, "dropout: p must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  DSVD_CHECK(is_floating(x.dtype()), "dropout: expects float32 or float64, got ", dtype_name(x.dtype()));
  if (p == 1) return mul(x, 0.0);
  Generator& g = gen ? *gen : default_generator();
  // While a graph records, the draw is numbered from the device counter each replay sets.
  const RecordedDraws* recorded = recorded_draws(x.device());
  DSVD_CHECK(!recorded || &g == &default_generator(), "dropout: ", x.device().str(), " is recording a graph, which "
             "numbers the default generator's draws only; this dropout was given another generator");
  const uint64_t seed = g.seed(), draw = g.next_draw() - (recorded ? recorded->start : 0);
  const Tensor draw_base = recorded ? recorded->base : Tensor();
  Tensor in = detail::contiguous_raw(x);
  Tensor out = empty(x.sizes(), x.dtype(), x.device());
  kernels::call<kernels::DropoutKernel>(x.device(), out, in, seed, draw, p, draw_base);
  auto backward = [seed, draw, p, draw_base](const std::vector<Tensor>& grads, FunctionNode&) {
    Tensor gy = detail::contiguous_raw(grads[0]);
    Tensor gx = empty(gy.sizes(), gy.dtype(), gy.device());
    kernels::call<kernels::DropoutKernel>(gy.device(), gx, gy, seed, draw, p, draw_base);
    return std::vector<Tensor>{gx};
  };
  return record_op("dropout", {out}, {x}, {}, backward)[0];
}

}  // namespace dsvd
