// batch_norm: per-channel normalisation over (N, H, W), written with tracked ops so that its
// backward (through the batch mean and variance) comes from theirs:
//   training:   y = γ · (x − μ_B) / √(σ²_B + ε) + β,   σ²_B the biased batch variance;
//               running_mean ← (1 − m)·running_mean + m·μ_B
//               running_var  ← (1 − m)·running_var  + m·σ²_B · n/(n − 1)    (n = N·H·W)
//   evaluation: y = γ · (x − running_mean) / √(running_var + ε) + β.
#include "ops/cpu/copy_kernel.h"
#include "ops/internal.h"
#include "ops/nn_ops.h"

namespace dsvd {

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  DSVD_CHECK(x.dim() == 2 || x.dim() == 4, "batch_norm: input must be (N, C) or (N, C, H, W), got shape ",
             shape_str(x.sizes()));
  const int64_t channels = x.size(1);
  auto check_vector = [&](const Tensor& t, const char* name) {
    if (t.defined())
      DSVD_CHECK(t.dim() == 1 && t.size(0) == channels, "batch_norm: ", name, " must have shape [", channels,
                 "], got ", shape_str(t.sizes()));
  };
  check_vector(weight, "weight");
  check_vector(bias, "bias");
  check_vector(running_mean, "running_mean");
  check_vector(running_var, "running_var");
  DSVD_CHECK(training || (running_mean.defined() && running_var.defined()), "batch_norm: evaluation mode needs "
             "running_mean and running_var");
  Shape dims = x.dim() == 4 ? Shape{0, 2, 3} : Shape{0};
  Shape broadcast = x.dim() == 4 ? Shape{1, channels, 1, 1} : Shape{1, channels};
  const int64_t count = x.numel() / channels;
  Tensor centred, inv_std;
  if (training) {
    DSVD_CHECK(count > 1, "batch_norm: training needs more than one value per channel, got input of shape ",
               shape_str(x.sizes()));
    Tensor mu = mean(x, dims, true);
    centred = sub(x, mu);
    Tensor variance = mean(mul(centred, centred), dims, true);
    inv_std = rdiv(sqrt(add(variance, eps)), 1.0);
    if (running_mean.defined() && running_var.defined()) {
      NoGradGuard no_grad;
      Tensor new_mean = add(mul(running_mean, 1.0 - momentum), mul(mu.reshape({channels}).to(running_mean.dtype()), momentum));
      Tensor unbiased = mul(variance.reshape({channels}), double(count) / double(count - 1));
      Tensor new_var = add(mul(running_var, 1.0 - momentum), mul(unbiased.to(running_var.dtype()), momentum));
      cpu::copy_into(running_mean, new_mean);  // buffers are updated in place, as in PyTorch
      cpu::copy_into(running_var, new_var);
    }
  } else {
    centred = sub(x, running_mean.to(x.dtype()).reshape(broadcast));
    inv_std = rdiv(sqrt(add(running_var.to(x.dtype()).reshape(broadcast), eps)), 1.0);
  }
  Tensor y = mul(centred, inv_std);
  if (weight.defined()) y = mul(y, weight.reshape(broadcast));
  if (bias.defined()) y = add(y, bias.reshape(broadcast));
  return y;
}

}  // namespace dsvd
