// The layers models are built from, with PyTorch's names for their parameters and buffers:
//   Conv2d (weight, bias)  BatchNorm2d (weight, bias, running_mean, running_var, num_batches_tracked)
//   Linear (weight, bias)  ReLU  MaxPool2d  AvgPool2d  AdaptiveAvgPool2d  Dropout  Flatten
//   Identity  Sequential (children "0", "1", ...)
// Each layer's forward calls the op of the same name (ops/nn_ops.h).
#pragma once
#include <functional>
#include <initializer_list>

#include "nn/module.h"
#include "ops/nn_ops.h"
#include "ops/ops.h"

namespace dsvd::nn {

enum class ConvInit {
  Default,         // PyTorch's: U(±1/√fan_in) for weight and bias
  KaimingFanOut,   // torchvision's ResNet and the reduction block: N(0, 2/fan_out)
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Pair kernel, Conv2dOptions options = {}, bool bias = true,
         ConvInit init = ConvInit::Default);
  Tensor forward_impl(const Tensor& x) override;
  // max(0, forward(x)): the conv -> ReLU of AlexNet as one fused op (conv2d_relu). The module's
  // audited output is the ReLU's.
  Tensor forward_relu(const Tensor& x);
  Tensor weight, bias;
  Conv2dOptions options;
  // Set by nn::FoldBatchNorms for evaluation: the weight and bias with the following batch norm
  // folded in, used instead of weight and bias while the module is not training.
  Tensor folded_weight, folded_bias;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1);
  Tensor forward_impl(const Tensor& x) override;
  // max(0, forward(x) + residual) (residual may be undefined): the BN -> (add) -> ReLU of a ResNet
  // block as one fused op in training (batch_norm_relu). The module's audited output is the
  // ReLU's.
  Tensor forward_relu(const Tensor& x, const Tensor& residual = Tensor());
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double eps, momentum;
  // Synchronised batch norm (--sync-bn): when set, training-mode statistics are those of the
  // whole global batch. It must return the sum of its argument over every replica, differentiably
  // (distributed/sync_batch_norm.h sets it); the layer sums per-channel Σx, Σx² and the count.
  std::function<Tensor(const Tensor&)> sum_over_replicas;
  // Set by nn::FoldBatchNorms: the convolution before this layer applies it, so in evaluation the
  // layer passes its input through (forward_relu still adds and rectifies).
  bool folded_into_conv = false;

 private:
  // Whether this forward is the batch_norm op itself: not synchronised, not folded into a conv.
  bool runs_batch_norm_op() const;
  Tensor synchronised_forward(const Tensor& x);
};

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward_impl(const Tensor& x) override;
  Tensor weight, bias;
};

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward_impl(const Tensor& x) override { return relu(x); }
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Pool2dOptions o) : Module("MaxPool2d"), options(o) {}
  Tensor forward_impl(const Tensor& x) override { return max_pool2d(x, options); }
  Pool2dOptions options;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Pool2dOptions o) : Module("AvgPool2d"), options(o) {}
  Tensor forward_impl(const Tensor& x) override { return avg_pool2d(x, options); }
  Pool2dOptions options;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Pair size) : Module("AdaptiveAvgPool2d"), size(size) {}
  Tensor forward_impl(const Tensor& x) override { return adaptive_avg_pool2d(x, size); }
  Pair size;
};

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5) : Module("Dropout"), p(p) {}
  Tensor forward_impl(const Tensor& x) override { return dropout(x, p, is_training()); }
  double p;
};

class Flatten : public Module {
 public:
  Flatten() : Module("Flatten") {}
  Tensor forward_impl(const Tensor& x) override { return x.flatten(1); }
};

class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward_impl(const Tensor& x) override { return x; }
};

class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  explicit Sequential(std::initializer_list<ModulePtr> modules);
  void push_back(ModulePtr module);
  // Adds a module that has no parameters and no index of its own in torchvision's numbering is
  // not a thing: every entry gets the next index, as nn.Sequential does.
  // A Conv2d or a BatchNorm2d followed by a ReLU runs as one fused op (Conv2d::forward_relu,
  // BatchNorm2d::forward_relu), except while the audit is on: then every module's output is
  // recorded under its own name.
  Tensor forward_impl(const Tensor& x) override;
  size_t size() const { return children().size(); }
};

}  // namespace dsvd::nn
