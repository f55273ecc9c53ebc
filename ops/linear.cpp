// linear: y = x · Wᵀ + b for x (..., in), W (out, in), b (out). Wᵀ is a view that BLAS reads with
// its transpose flag; the backward comes from matmul's and add's.
#include "ops/autocast.h"
#include "ops/internal.h"
#include "ops/nn_ops.h"

namespace dsvd {

Tensor linear(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in) {
  const Tensor x = autocast::input("linear", x_in);
  const Tensor weight = autocast::input("linear", weight_in);
  const Tensor bias = autocast::input("linear", bias_in);

  DSVD_CHECK(x.dim() >= 1 && weight.dim() == 2 && x.size(-1) == weight.size(1), "linear: input of shape ",
             shape_str(x.sizes()), " does not match weight of shape ", shape_str(weight.sizes()),
             " (expected the last input dimension to be ", weight.dim() == 2 ? weight.size(1) : -1, ")");
  if (bias.defined())
    DSVD_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "linear: bias must have shape [", weight.size(0),
               "], got ", shape_str(bias.sizes()));
  Shape out_shape = x.sizes();
  out_shape.back() = weight.size(0);
  Tensor flat = x.dim() == 2 ? x : x.reshape({-1, x.size(-1)});
  Tensor y = matmul(flat, weight.t());
  if (bias.defined()) y = add(y, bias);
  return x.dim() == 2 ? y : y.reshape(out_shape);
}

}  // namespace dsvd
