#include "nn/layers.h"


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

Tensor Conv2d::forward_impl(const Tensor& x) { return conv2d(x, weight, bias, options); }

BatchNorm2d::BatchNorm2d(int64_t channels, double eps_, double momentum_)
    : Module("BatchNorm2d"), eps(eps_), momentum(momentum_) {
  weight = register_parameter("weight", ones({channels}));
  bias = register_parameter("bias", zeros({channels}));
  running_mean = register_buffer("running_mean", zeros({channels}));
  running_var = register_buffer("running_var", ones({channels}));
  num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::Int64));
}

Tensor BatchNorm2d::forward_impl(const Tensor& x) {
  if (is_training()) {
    add_(num_batches_tracked, 1.0);  // on its device, as PyTorch's += 1
  }
  return batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
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
  Tensor y = x;
  for (const auto& [name, m] : children()) y = m->forward(y);
  return y;
}

}  // namespace dsvd::nn
