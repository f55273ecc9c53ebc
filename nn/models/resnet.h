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

 private:
  std::shared_ptr<Module> conv1_, bn1_, conv2_, bn2_, downsample_;
};

class Bottleneck : public Module {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(int64_t in, int64_t planes, int64_t stride);
  Tensor forward_impl(const Tensor& x) override;

 private:
  std::shared_ptr<Module> conv1_, bn1_, conv2_, bn2_, conv3_, bn3_, downsample_;
};

class ResNet : public Module {
 public:
  ResNet(bool bottleneck, const std::vector<int64_t>& blocks, const ModelOptions& options);
  Tensor forward_impl(const Tensor& x) override;

 private:
  ModulePtr conv1_, bn1_, maxpool_, head_, fc_;
  std::vector<ModulePtr> layers_;
};

}  // namespace dsvd::nn
