#include "nn/fold_batch_norm.h"

#include "autograd/audit.h"
#include "autograd/grad_mode.h"
#include "nn/layers.h"
#include "ops/ops.h"

namespace dsvd::nn {

FoldBatchNorms::FoldBatchNorms(Module& model) {
  if (model.is_training() || audit::enabled()) return;
  NoGradGuard no_grad;
  std::vector<std::pair<std::string, const Module*>> modules = {{"the model", &model}};
  for (const auto& [name, module] : model.named_modules()) modules.emplace_back(name, module.get());
  for (const auto& [name, module] : modules)
    for (auto& [conv, bn] : module->conv_bn_pairs()) {
      DSVD_CHECK(conv && bn, "FoldBatchNorms: ", name, " declares a conv/batch-norm pair with a missing layer");
      // In float64, then rounded once to the weights' dtype.
      const int64_t out = conv->weight.size(0);
      Tensor scale = rdiv(sqrt(add(bn->running_var.to(DType::Float64), bn->eps)), 1.0);
      if (bn->weight.defined()) scale = mul(scale, bn->weight.to(DType::Float64));
      Tensor bias = conv->bias.defined() ? conv->bias.to(DType::Float64) : zeros({out}, DType::Float64, scale.device());
      bias = mul(sub(bias, bn->running_mean.to(DType::Float64)), scale);
      if (bn->bias.defined()) bias = add(bias, bn->bias.to(DType::Float64));
      conv->folded_weight = mul(conv->weight.to(DType::Float64), scale.reshape({out, 1, 1, 1})).to(conv->weight.dtype());
      conv->folded_bias = bias.to(conv->weight.dtype());
      bn->folded_into_conv = true;
      pairs_.emplace_back(conv, bn);
    }
}

FoldBatchNorms::~FoldBatchNorms() {
  for (auto& [conv, bn] : pairs_) {
    conv->folded_weight = Tensor();
    conv->folded_bias = Tensor();
    bn->folded_into_conv = false;
  }
}

}  // namespace dsvd::nn
