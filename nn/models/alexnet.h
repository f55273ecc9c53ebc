// AlexNet in torchvision's layout ("features.N", "avgpool", "classifier.N"), and the DSVD variant
// for covariance pooling (docs/models-and-training.md §2): BatchNorm after every conv, no dropout, the
// last max-pool removed and replaced by the covariance head ("representation"), and a classifier
// Linear(dim(dim+1)/2 → 4096), ReLU, Linear(4096 → 4096), ReLU, Linear(4096 → classes).
#pragma once
#include "nn/layers.h"
#include "nn/models/model_options.h"

namespace dsvd::nn {

class AlexNet : public Module {
 public:
  explicit AlexNet(const ModelOptions& options);
  Tensor forward_impl(const Tensor& x) override;

 private:
  std::shared_ptr<Sequential> features_, classifier_;
  ModulePtr pool_or_head_;
  bool covariance_;
};

}  // namespace dsvd::nn
