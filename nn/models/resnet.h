// ResNet-18/34/50/101/152 in torchvision's layout (v1.5: a down-sampling bottleneck strides on its
// 3×3 conv): conv1, bn1, relu, maxpool, layer1..layer4, then either avgpool + fc (head "gap") or
// the covariance head "representation" + fc (docs/models-and-training.md §3). Kaiming-normal fan_out
// for convs, BN weight 1 / bias 0, PyTorch's default for fc.
#pragma once
#include "nn/layers.h"
#include "nn/models/model_options.h"

namespace dsvd::nn {

class BasicBlock : public Module {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlock(int64_t in, int64_t planes, int64_t stride);
  Tensor forward_impl(const Tensor& x) override;

  ConvBatchNormPairs conv_bn_pairs() const override;

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_;
  // "downsample" (a Sequential of a 1x1 conv and a batch norm) when the block changes the shape.
  std::shared_ptr<Sequential> downsample_;
  std::shared_ptr<Conv2d> downsample_conv_;
  std::shared_ptr<BatchNorm2d> downsample_bn_;
};

class Bottleneck : public Module {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(int64_t in, int64_t planes, int64_t stride);
  Tensor forward_impl(const Tensor& x) override;

  ConvBatchNormPairs conv_bn_pairs() const override;

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_, conv3_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_, bn3_;
  // "downsample" (a Sequential of a 1x1 conv and a batch norm) when the block changes the shape.
  std::shared_ptr<Sequential> downsample_;
  std::shared_ptr<Conv2d> downsample_conv_;
  std::shared_ptr<BatchNorm2d> downsample_bn_;
};

class ResNet : public Module {
 public:
  ResNet(bool bottleneck, const std::vector<int64_t>& blocks, const ModelOptions& options);
  Tensor forward_impl(const Tensor& x) override;

  ConvBatchNormPairs conv_bn_pairs() const override;

 private:
  std::shared_ptr<Conv2d> conv1_;
  std::shared_ptr<BatchNorm2d> bn1_;
  ModulePtr maxpool_, head_, fc_;
  std::vector<ModulePtr> layers_;
};

}  // namespace dsvd::nn
