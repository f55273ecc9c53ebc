#include "nn/models/alexnet.h"

#include "nn/covariance_head.h"

namespace dsvd::nn {

AlexNet::AlexNet(const ModelOptions& o) : Module("AlexNet"), covariance_(is_covariance_head(o.head)) {
  const bool bn = o.alexnet_bn.value_or(covariance_);
  auto width = [&](int64_t c) { return std::max<int64_t>(1, int64_t(double(c) * o.width)); };
  const int64_t c1 = width(64), c2 = width(192), c3 = width(384), c4 = width(256), c5 = width(256);
  features_ = register_module("features", std::make_shared<Sequential>());
  auto conv_block = [&](int64_t in, int64_t out, Pair k, Conv2dOptions co) {
    features_->push_back(std::make_shared<Conv2d>(in, out, k, co));
    if (bn) features_->push_back(std::make_shared<BatchNorm2d>(out));
    features_->push_back(std::make_shared<ReLU>());
  };
  auto max_pool = [&] { features_->push_back(std::make_shared<MaxPool2d>(Pool2dOptions{{3, 3}, {2, 2}})); };
  if (o.small_stem) {
    conv_block(o.in_channels, c1, {3, 3}, {{1, 1}, {1, 1}});
  } else {
    conv_block(o.in_channels, c1, {11, 11}, {{4, 4}, {2, 2}});
    max_pool();
  }
  conv_block(c1, c2, {5, 5}, {{1, 1}, {2, 2}});
  max_pool();
  conv_block(c2, c3, {3, 3}, {{1, 1}, {1, 1}});
  conv_block(c3, c4, {3, 3}, {{1, 1}, {1, 1}});
  conv_block(c4, c5, {3, 3}, {{1, 1}, {1, 1}});
  classifier_ = std::make_shared<Sequential>();
  if (covariance_) {
    // pool5 is the slot the head replaces.
    MatrixSqrtOptions sqrt = o.sqrt;
    sqrt.method = head_method(o.head);
    auto head = std::make_shared<CovarianceHead>(c5, o.head_dim, sqrt, o.head_dtype);
    pool_or_head_ = register_module("representation", head);
    classifier_->push_back(std::make_shared<Linear>(head->output_dim(), width(4096)));
    classifier_->push_back(std::make_shared<ReLU>());
    classifier_->push_back(std::make_shared<Linear>(width(4096), width(4096)));
    classifier_->push_back(std::make_shared<ReLU>());
    classifier_->push_back(std::make_shared<Linear>(width(4096), o.num_classes));
  } else {
    max_pool();
    pool_or_head_ = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(Pair{6, 6}));
    if (!bn) classifier_->push_back(std::make_shared<Dropout>(0.5));
    classifier_->push_back(std::make_shared<Linear>(c5 * 36, width(4096)));
    classifier_->push_back(std::make_shared<ReLU>());
    if (!bn) classifier_->push_back(std::make_shared<Dropout>(0.5));
    classifier_->push_back(std::make_shared<Linear>(width(4096), width(4096)));
    classifier_->push_back(std::make_shared<ReLU>());
    classifier_->push_back(std::make_shared<Linear>(width(4096), o.num_classes));
  }
  register_module("classifier", classifier_);
}

Tensor AlexNet::forward_impl(const Tensor& x) {
  Tensor y = pool_or_head_->forward(features_->forward(x));
  return classifier_->forward(y.flatten(1));
}

}  // namespace dsvd::nn
