#include "nn/covariance_head.h"

#include "autograd/autocast_mode.h"
#include "nn/init.h"

namespace dsvd::nn {

CovarianceHead::CovarianceHead(int64_t in_channels, int64_t dim, MatrixSqrtOptions sqrt, DType dtype)
    : Module("CovarianceHead"), n_(dim > 0 ? dim : in_channels) {
  if (dim > 0) {
    reduce_conv_ = std::make_shared<Conv2d>(in_channels, dim, Pair{1, 1}, Conv2dOptions{}, /*bias=*/false,
                                            ConvInit::KaimingFanOut);
    reduce_bn_ = std::make_shared<BatchNorm2d>(dim);
    reduce_ = register_module("conv_dr_block", std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
                                                   reduce_conv_, reduce_bn_, std::make_shared<ReLU>()}));
  }
  pooling_.sqrt = sqrt;
  pooling_.dtype = dtype;
}

Tensor CovarianceHead::forward_impl(const Tensor& x) {
  // A fresh report per call, so it describes exactly this step's forward and backward.
  pooling_.sqrt.report = std::make_shared<MatfnReport>();
  // Under mixed precision the head stays in float32 (its matrix functions in their own dtype): the
  // precision of the square root is the paper's subject, so autocast never lowers it.
  AutocastScope full_precision(std::nullopt);
  const Tensor input = is_reduced_float(x.dtype()) ? x.to(DType::Float32) : x;
  Tensor features = reduce_ ? reduce_bn_->forward_relu(reduce_conv_->forward(input)) : input;
  return covariance_sqrt_pooling(features, pooling_);
}

ConvBatchNormPairs CovarianceHead::conv_bn_pairs() const {
  if (!reduce_) return {};
  return {{reduce_conv_, reduce_bn_}};
}

}  // namespace dsvd::nn
