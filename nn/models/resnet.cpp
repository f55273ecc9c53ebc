#include "nn/models/resnet.h"

#include "nn/covariance_head.h"
#include "nn/init.h"
#include "ops/ops.h"

namespace dsvd::nn {
namespace {

std::shared_ptr<Conv2d> conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
  return std::make_shared<Conv2d>(in, out, Pair{k, k}, Conv2dOptions{{stride, stride}, {pad, pad}}, false,
                                  ConvInit::KaimingFanOut);
}

struct Downsample {
  std::shared_ptr<Sequential> sequence;
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
};

// torchvision's downsample branch (1x1 conv, batch norm) when the block changes the shape.
Downsample downsample_if_needed(int64_t in, int64_t out, int64_t stride) {
  if (stride == 1 && in == out) return {};
  Downsample d{nullptr, conv(in, out, 1, stride, 0), std::make_shared<BatchNorm2d>(out)};
  d.sequence = std::make_shared<Sequential>(std::initializer_list<ModulePtr>{d.conv, d.bn});
  return d;
}

// The block's own pairs plus its downsample's.
ConvBatchNormPairs with_downsample(ConvBatchNormPairs pairs, const std::shared_ptr<Conv2d>& conv,
                                   const std::shared_ptr<BatchNorm2d>& bn) {
  if (conv) pairs.emplace_back(conv, bn);
  return pairs;
}

}  // namespace

BasicBlock::BasicBlock(int64_t in, int64_t planes, int64_t stride) : Module("BasicBlock") {
  conv1_ = register_module("conv1", conv(in, planes, 3, stride, 1));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  conv2_ = register_module("conv2", conv(planes, planes, 3, 1, 1));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  if (Downsample d = downsample_if_needed(in, planes, stride); d.sequence) {
    downsample_ = register_module("downsample", d.sequence);
    downsample_conv_ = d.conv, downsample_bn_ = d.bn;
  }
}

ConvBatchNormPairs BasicBlock::conv_bn_pairs() const {
  return with_downsample({{conv1_, bn1_}, {conv2_, bn2_}}, downsample_conv_, downsample_bn_);
}

// Each BN -> (add) -> ReLU is one fused op in training (BatchNorm2d::forward_relu).
Tensor BasicBlock::forward_impl(const Tensor& x) {
  Tensor out = bn1_->forward_relu(conv1_->forward(x));
  return bn2_->forward_relu(conv2_->forward(out), downsample_ ? downsample_->forward(x) : x);
}

Bottleneck::Bottleneck(int64_t in, int64_t planes, int64_t stride) : Module("Bottleneck") {
  conv1_ = register_module("conv1", conv(in, planes, 1, 1, 0));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  conv2_ = register_module("conv2", conv(planes, planes, 3, stride, 1));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  conv3_ = register_module("conv3", conv(planes, planes * kExpansion, 1, 1, 0));
  bn3_ = register_module("bn3", std::make_shared<BatchNorm2d>(planes * kExpansion));
  if (Downsample d = downsample_if_needed(in, planes * kExpansion, stride); d.sequence) {
    downsample_ = register_module("downsample", d.sequence);
    downsample_conv_ = d.conv, downsample_bn_ = d.bn;
  }
}

ConvBatchNormPairs Bottleneck::conv_bn_pairs() const {
  return with_downsample({{conv1_, bn1_}, {conv2_, bn2_}, {conv3_, bn3_}}, downsample_conv_, downsample_bn_);
}

Tensor Bottleneck::forward_impl(const Tensor& x) {
  Tensor out = bn1_->forward_relu(conv1_->forward(x));
  out = bn2_->forward_relu(conv2_->forward(out));
  return bn3_->forward_relu(conv3_->forward(out), downsample_ ? downsample_->forward(x) : x);
}

ResNet::ResNet(bool bottleneck, const std::vector<int64_t>& blocks, const ModelOptions& o) : Module("ResNet") {
  DSVD_CHECK(o.last_stride == 1 || o.last_stride == 2, "ResNet: last_stride must be 1 or 2, got ", o.last_stride);
  auto width = [&](int64_t c) { return std::max<int64_t>(1, int64_t(double(c) * o.width)); };
  const int64_t expansion = bottleneck ? Bottleneck::kExpansion : BasicBlock::kExpansion;
  int64_t in = width(64);
  conv1_ = register_module("conv1", o.small_stem ? conv(o.in_channels, in, 3, 1, 1) : conv(o.in_channels, in, 7, 2, 3));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(in));
  if (!o.small_stem) maxpool_ = register_module("maxpool", std::make_shared<MaxPool2d>(Pool2dOptions{{3, 3}, {2, 2}, {1, 1}}));
  const int64_t planes[4] = {width(64), width(128), width(256), width(512)};
  for (int stage = 0; stage < 4; ++stage) {
    auto layer = std::make_shared<Sequential>();
    int64_t stride = stage == 0 ? 1 : stage == 3 ? o.last_stride : 2;
    for (int64_t b = 0; b < blocks[size_t(stage)]; ++b) {
      int64_t s = b == 0 ? stride : 1;
      if (bottleneck) layer->push_back(std::make_shared<Bottleneck>(in, planes[stage], s));
      else layer->push_back(std::make_shared<BasicBlock>(in, planes[stage], s));
      in = planes[stage] * expansion;
    }
    layers_.push_back(register_module("layer" + std::to_string(stage + 1), layer));
  }
  int64_t features = in;
  if (is_covariance_head(o.head)) {
    MatrixSqrtOptions sqrt = o.sqrt;
    sqrt.method = head_method(o.head);
    auto head = std::make_shared<CovarianceHead>(in, o.head_dim, sqrt, o.head_dtype);
    features = head->output_dim();
    head_ = register_module("representation", head);
  } else {
    head_ = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(Pair{1, 1}));
  }
  fc_ = register_module("fc", std::make_shared<Linear>(features, o.num_classes));
}

ConvBatchNormPairs ResNet::conv_bn_pairs() const { return {{conv1_, bn1_}}; }

Tensor ResNet::forward_impl(const Tensor& x) {
  Tensor y = bn1_->forward_relu(conv1_->forward(x));
  if (maxpool_) y = maxpool_->forward(y);
  for (auto& layer : layers_) y = layer->forward(y);
  return fc_->forward(head_->forward(y).flatten(1));
}

}  // namespace dsvd::nn
