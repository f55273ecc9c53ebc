// batch_norm: per-channel normalisation over (N, H, W); batch_norm_relu: the same fused with the
// residual add and the ReLU that follow it in a ResNet block. Training mode runs the fused kernels of
// the table (ops/cpu/batch_norm_kernels.cpp, cuDNN), evaluation its own pair of kernels, each with
// a hand-written backward. With n = N·H·W values per channel, x̂ = (x − μ)·s, s = 1/√(σ² + ε):
//   training:   y = γ·x̂ + β with the batch mean μ and biased variance σ²;
//               running_mean ← (1 − m)·running_mean + m·μ
//               running_var  ← (1 − m)·running_var  + m·σ²·n/(n − 1)
//               dx = γ·s·(dy − mean(dy) − x̂·mean(dy·x̂))
//   evaluation: μ, σ² are the running statistics (constants): dx = γ·s·dy
//   both:       dγ = Σ dy·x̂,  dβ = Σ dy
// batch_norm_relu (training): y = max(0, BN(x) + r); backward with g = dy where y > 0 or y is
// NaN, else 0 (ReLU's rule on the saved y): dr = g, and dx, dγ, dβ as above from g. One pass
// over memory each way instead of three (BN, add, ReLU), and no intermediate tensor kept.
#include "ops/internal.h"
#include "ops/kernel_table.h"
#include "ops/kernels/float32_compute.h"
#include "ops/kernels/nn.h"
#include "ops/nn_ops.h"

namespace dsvd {
namespace {

// γ and β are the input's dtype, or float32 for a bfloat16/float16 input (mixed precision keeps
// parameters in float32; the kernels compute in float32 and round y once).
DType batch_norm_parameter_dtype(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (weight.defined()) return weight.dtype();
  return bias.defined() ? bias.dtype() : x.dtype();
}

// Records batch norm's backward: the kernel of `BackwardFamily` (training or evaluation) on the
// saved input, weight and two per-channel statistics.
template <typename BackwardFamily>
Tensor record_batch_norm(const Tensor& y, const std::vector<Tensor>& inputs, std::vector<Saved> saved, int64_t channels,
                         double eps) {
  const DType parameter_dtype = batch_norm_parameter_dtype(inputs[0], inputs[1], inputs[2]);
  return record_op("batch_norm", {y}, inputs, std::move(saved),
                   [channels, eps, parameter_dtype](const std::vector<Tensor>& g, FunctionNode& node) {
                     const Tensor& xs = node.saved_tensor(0);
                     const Device dev = xs.device();
                     const MemoryFormat format = memory_format_of(xs);  // the forward's choice
                     Tensor dy = detail::contiguous_raw(g[0], format);
                     Tensor dx = node.needs_input_grad(0) ? empty(xs.sizes(), xs.dtype(), dev, format) : Tensor();
                     Tensor dw = node.needs_input_grad(1) ? empty({channels}, parameter_dtype, dev) : Tensor();
                     Tensor db = node.needs_input_grad(2) ? empty({channels}, parameter_dtype, dev) : Tensor();
                     kernels::call<BackwardFamily>(dev, xs, dy, node.saved_tensor(1), node.saved_tensor(2),
                                                   node.saved_tensor(3), eps, dx, dw, db);
                     return std::vector<Tensor>{dx, dw, db};
                   })[0];
}

// The checks both ops make.
void check_batch_norm_arguments(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                                const Tensor& running_var, bool training) {
  DSVD_CHECK(x.dim() == 2 || x.dim() == 4, "batch_norm: input must be (N, C) or (N, C, H, W), got shape ",
             shape_str(x.sizes()));
  DSVD_CHECK(is_floating(x.dtype()), "batch_norm: expects a floating input, got ", dtype_name(x.dtype()));
  const int64_t channels = x.size(1);
  auto check_vector = [&](const Tensor& t, const char* name, bool same_dtype) {
    if (!t.defined()) return;
    DSVD_CHECK(t.dim() == 1 && t.size(0) == channels, "batch_norm: ", name, " must have shape [", channels, "], got ",
               shape_str(t.sizes()));
    const bool mixed = is_reduced_float(x.dtype()) && t.dtype() == DType::Float32;
    DSVD_CHECK(!same_dtype || t.dtype() == x.dtype() || mixed, "batch_norm: ", name, " is ", dtype_name(t.dtype()),
               ", the input is ", dtype_name(x.dtype()), " (parameters share the input's dtype, or are float32 for a "
               "bfloat16/float16 input)");
  };
  check_vector(weight, "weight", true);
  check_vector(bias, "bias", true);
  check_vector(running_mean, "running_mean", false);
  check_vector(running_var, "running_var", false);
  DSVD_CHECK(training || (running_mean.defined() && running_var.defined()), "batch_norm: evaluation mode needs "
             "running_mean and running_var");
  const int64_t per_channel = x.size(0) * (x.dim() == 4 ? x.size(2) * x.size(3) : 1);
  DSVD_CHECK(!training || per_channel > 1, "batch_norm: training needs more than one value per channel, got input of "
             "shape ", shape_str(x.sizes()));
  for (const Tensor* t : {&weight, &bias, &running_mean, &running_var})
    DSVD_CHECK(!t->defined() || t->device() == x.device(), "batch_norm: the input is on ", x.device().str(),
               ", a parameter or running statistic on ", t->device().str());
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  check_batch_norm_arguments(x, weight, bias, running_mean, running_var, training);
  const int64_t channels = x.size(1);
  // A channels-last input stays so where the device's kernels of this mode take it.
  const MemoryFormat format =
      training ? kernels::layout_for<kernels::BatchNormTrainingKernel, kernels::BatchNormBackwardKernel>(x)
               : kernels::layout_for<kernels::BatchNormInferenceKernel, kernels::BatchNormInferenceBackwardKernel>(x);
  Tensor xc = detail::contiguous_raw(x, format);
  Tensor w = weight.defined() ? detail::contiguous_raw(weight) : Tensor();
  Tensor b = bias.defined() ? detail::contiguous_raw(bias) : Tensor();
  Tensor y = empty(x.sizes(), x.dtype(), x.device(), format);
  if (!training) {
    Tensor rm = detail::contiguous_raw(running_mean), rv = detail::contiguous_raw(running_var);
    kernels::call<kernels::BatchNormInferenceKernel>(x.device(), xc, w, b, rm, rv, eps, y);
    return record_batch_norm<kernels::BatchNormInferenceBackwardKernel>(
        y, {x, weight, bias}, {{"input", xc}, {"weight", w}, {"running_mean", rm}, {"running_var", rv}}, channels, eps);
  }
  Tensor mean, invstd;  // allocated by the kernel, in its statistics dtype
  kernels::call<kernels::BatchNormTrainingKernel>(x.device(), xc, w, b, running_mean, running_var, momentum, eps, y,
                                                  mean, invstd);
  return record_batch_norm<kernels::BatchNormBackwardKernel>(
      y, {x, weight, bias}, {{"input", xc}, {"weight", w}, {"mean", mean}, {"invstd", invstd}}, channels, eps);
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& residual, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, bool training, double momentum,
                       double eps) {
  check_batch_norm_arguments(x, weight, bias, running_mean, running_var, training);
  if (residual.defined()) {
    DSVD_CHECK(residual.sizes() == x.sizes(), "batch_norm_relu: the residual has shape ", shape_str(residual.sizes()),
               ", the input ", shape_str(x.sizes()));
    DSVD_CHECK(residual.dtype() == x.dtype() && residual.device() == x.device(), "batch_norm_relu: the residual is ",
               dtype_name(residual.dtype()), " on ", residual.device().str(), ", the input ", dtype_name(x.dtype()),
               " on ", x.device().str());
  }
  // Evaluation, and devices without the fused kernels: the three ops (the same values).
  if (!training || !kernels::has_kernel<kernels::BatchNormReluTrainingKernel>(x.device().kind)) {
    Tensor y = batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps);
    return relu(residual.defined() ? add(y, residual) : y);
  }
  const int64_t channels = x.size(1);
  const MemoryFormat format =
      kernels::layout_for<kernels::BatchNormReluTrainingKernel, kernels::BatchNormReluBackwardKernel>(x);
  Tensor xc = detail::contiguous_raw(x, format);
  Tensor rc = residual.defined() ? detail::contiguous_raw(residual, format) : Tensor();
  Tensor w = weight.defined() ? detail::contiguous_raw(weight) : Tensor();
  Tensor b = bias.defined() ? detail::contiguous_raw(bias) : Tensor();
  Tensor y = empty(x.sizes(), x.dtype(), x.device(), format);
  Tensor mean, invstd;  // allocated by the kernel, in its statistics dtype
  kernels::call<kernels::BatchNormReluTrainingKernel>(x.device(), xc, rc, w, b, running_mean, running_var, momentum,
                                                      eps, y, mean, invstd);
  return record_op(
      "batch_norm_relu", {y}, {x, weight, bias, residual},
      {{"input", xc}, {"output", y}, {"weight", w}, {"mean", mean}, {"invstd", invstd}},
      [channels, eps, parameter_dtype = batch_norm_parameter_dtype(x, weight, bias)](const std::vector<Tensor>& g,
                                                                                      FunctionNode& node) {
        const Tensor& xs = node.saved_tensor("input");
        const Device dev = xs.device();
        const MemoryFormat format = memory_format_of(xs);  // the forward's choice
        Tensor dy = detail::contiguous_raw(g[0], format);
        Tensor dx = node.needs_input_grad(0) ? empty(xs.sizes(), xs.dtype(), dev, format) : Tensor();
        Tensor dw = node.needs_input_grad(1) ? empty({channels}, parameter_dtype, dev) : Tensor();
        Tensor db = node.needs_input_grad(2) ? empty({channels}, parameter_dtype, dev) : Tensor();
        Tensor dr = node.needs_input_grad(3) ? empty(xs.sizes(), xs.dtype(), dev, format) : Tensor();
        kernels::call<kernels::BatchNormReluBackwardKernel>(
            dev, xs, node.saved_tensor("output"), dy, node.saved_tensor("weight"), node.saved_tensor("mean"),
            node.saved_tensor("invstd"), eps, dx, dw, db, dr);
        return std::vector<Tensor>{dx, dw, db, dr};
      })[0];
}

}  // namespace dsvd
