#include "nn/layers.h"


#include "autograd/audit.h"
#include "nn/init.h"
#include "ops/ops.h"

namespace dsvd::nn {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Pair kernel, Conv2dOptions o, bool with_bias, ConvInit how)
    : Module("Conv2d"), options(o) {
  DSVD_CHECK(in_channels > 0 && out_channels > 0 && in_channels % o.groups == 0 && out_channels % o.groups == 0,
             "Conv2d: channels (", in_channels, " -> ", out_channels, ") must be positive and divisible by groups ",
             o.groups);
  const int64_t fan_in = in_channels / o.groups * kernel[0] * kernel[1];
  const Shape shape = {out_channels, in_channels / o.groups, kernel[0], kernel[1]};
  weight = register_parameter("weight", how == ConvInit::KaimingFanOut ? init::kaiming_normal_fan_out(shape)
                                                                       : init::default_uniform(shape, fan_in));
  if (with_bias) bias = register_parameter("bias", init::default_uniform({out_channels}, fan_in));
}

Tensor Conv2d::forward_impl(const Tensor& x) {
  if (folded_weight.defined() && !is_training()) return conv2d(x, folded_weight, folded_bias, options);
  return conv2d(x, weight, bias, options);
}

Tensor Conv2d::forward_relu(const Tensor& x) {
  return forward_scoped(x, [&](const Tensor& in) {
    if (folded_weight.defined() && !is_training()) return conv2d_relu(in, folded_weight, folded_bias, options);
    return conv2d_relu(in, weight, bias, options);
  });
}

BatchNorm2d::BatchNorm2d(int64_t channels, double eps_, double momentum_)
    : Module("BatchNorm2d"), eps(eps_), momentum(momentum_) {
  weight = register_parameter("weight", ones({channels}));
  bias = register_parameter("bias", zeros({channels}));
  running_mean = register_buffer("running_mean", zeros({channels}));
  running_var = register_buffer("running_var", ones({channels}));
  num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::Int64));
}

bool BatchNorm2d::runs_batch_norm_op() const {
  return !(is_training() && sum_over_replicas) && !(folded_into_conv && !is_training());
}

Tensor BatchNorm2d::forward_impl(const Tensor& x) {
  if (is_training()) {
    add_(num_batches_tracked, 1.0);  // on its device, as PyTorch's += 1
  }
  if (runs_batch_norm_op()) return batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
  return is_training() ? synchronised_forward(x) : x;  // synchronised, or folded into the conv before
}

Tensor BatchNorm2d::forward_relu(const Tensor& x, const Tensor& residual) {
  return forward_scoped(x, [&](const Tensor& in) {
    if (!runs_batch_norm_op()) {
      Tensor y = forward_impl(in);
      return relu(residual.defined() ? add(y, residual) : y);
    }
    if (is_training()) add_(num_batches_tracked, 1.0);
    return batch_norm_relu(in, residual, weight, bias, running_mean, running_var, is_training(), momentum, eps);
  });
}

// Batch norm over the global batch, composed of differentiable ops: the replicas' per-channel
// sums Σx and Σx² (and counts) are summed by sum_over_replicas, whose backward sums the gradients
// the same way, so the backward is that of batch norm over the global batch too.
Tensor BatchNorm2d::synchronised_forward(const Tensor& x) {
  DSVD_CHECK(x.dim() == 4 || x.dim() == 2, "BatchNorm2d (synchronised): expects (N, C, H, W) or (N, C), got ",
             shape_str(x.sizes()));
  const int64_t channels = x.size(1);
  const std::vector<int64_t> dims = x.dim() == 4 ? std::vector<int64_t>{0, 2, 3} : std::vector<int64_t>{0};
  Tensor x64 = x.to(DType::Float64);  // the sums in float64, as the CPU kernel's
  Tensor local = stack({sum(x64, dims), sum(mul(x64, x64), dims),
                        full({channels}, double(x.numel() / channels), DType::Float64, x.device())});
  Tensor global = sum_over_replicas(local);  // (3, C)
  Tensor count = global.select(0, 2);
  Tensor mean = div(global.select(0, 0), count);
  Tensor var = sub(div(global.select(0, 1), count), mul(mean, mean));  // biased, as for normalising
  {
    NoGradGuard no_grad;
    // momentum·n/max(n − 1, 1) for the unbiased running variance, n the global count: computed on
    // the device (the same float64 operations as on the host), so that nothing is read back.
    const Tensor n = count.select(0, 0);
    const Tensor factor = div(mul(n, momentum), clamp(sub(n, 1.0), 1.0)).to(running_var.dtype());
    copy_(running_mean, add(mul(running_mean, 1 - momentum), mul(mean.to(running_mean.dtype()), momentum)));
    copy_(running_var, add(mul(running_var, 1 - momentum), mul(var.to(running_var.dtype()), factor)));
  }
  Shape channel_shape(size_t(x.dim()), 1);
  channel_shape[1] = channels;
  Tensor invstd = rdiv(sqrt(add(var, eps)), 1.0).to(x.dtype()).reshape(channel_shape);
  Tensor y = mul(sub(x, mean.to(x.dtype()).reshape(channel_shape)), invstd);
  if (weight.defined()) y = mul(y, weight.reshape(channel_shape));
  if (bias.defined()) y = add(y, bias.reshape(channel_shape));
  return y;
}

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias) : Module("Linear") {
  weight = register_parameter("weight", init::default_uniform({out_features, in_features}, in_features));
  if (with_bias) bias = register_parameter("bias", init::default_uniform({out_features}, in_features));
}

Tensor Linear::forward_impl(const Tensor& x) { return linear(x, weight, bias); }

Sequential::Sequential(std::initializer_list<ModulePtr> modules) : Module("Sequential") {
  for (const auto& m : modules) push_back(m);
}

void Sequential::push_back(ModulePtr module) { register_module(std::to_string(children().size()), std::move(module)); }

Tensor Sequential::forward_impl(const Tensor& x) {
  const auto& modules = children();
  const bool fuse = !audit::enabled();
  Tensor y = x;
  for (size_t i = 0; i < modules.size(); ++i) {
    Module* m = modules[i].second.get();
    const bool relu_next = fuse && i + 1 < modules.size() && dynamic_cast<ReLU*>(modules[i + 1].second.get());
    if (auto* conv = dynamic_cast<Conv2d*>(m); conv && relu_next) {
      y = conv->forward_relu(y);
      ++i;
    } else if (auto* bn = dynamic_cast<BatchNorm2d*>(m); bn && relu_next) {
      y = bn->forward_relu(y);
      ++i;
    } else {
      y = m->forward(y);
    }
  }
  return y;
}

}  // namespace dsvd::nn
