// Options shared by the model builders (nn/models/alexnet.h, nn/models/resnet.h).
#pragma once
#include <optional>
#include <string>

#include "nn/module.h"
#include "ops/matfn/sqrtm.h"

namespace dsvd::nn {

struct ModelOptions {
  int64_t num_classes = 1000;
  // "gap": torchvision's global average pooling head; "isqrt" or "svd-<rule>" (svd-pade,
  // svd-taylor, ..., svd-exact, svd-pi-deflation): the covariance head (docs/models-and-training.md §2–3).
  std::string head = "gap";
  int64_t head_dim = 256;      // the reduction block's width
  int64_t last_stride = 2;     // ResNet layer4 stride: 2 (DSVD recipe) or 1 (iSQRT-COV recipe)
  bool small_stem = false;     // 3×3 stride-1 first conv, no first max-pool: for 28×28 / 32×32 images
  double width = 1.0;          // channel multiplier for small CPU runs
  int64_t in_channels = 3;
  // AlexNet: BatchNorm after every conv and no dropout (the DSVD variant). Default: on for a
  // covariance head, off for "gap" (torchvision's AlexNet, for weight exchange).
  std::optional<bool> alexnet_bn;
  MatrixSqrtOptions sqrt;      // rule hyperparameters; the method comes from `head`
  DType head_dtype = DType::Float64;
};

bool is_covariance_head(const std::string& head);
// "svd-pade" -> pade, "isqrt" -> isqrt; throws naming the valid heads for anything else.
SqrtMethod head_method(const std::string& head);
// The --head name of a rule: "svd-<rule>" for the eigendecomposition rules, the rule's name otherwise.
std::string head_name(SqrtMethod method);

// Builds "alexnet", "resnet18", "resnet34", "resnet50", "resnet101" or "resnet152".
ModulePtr make_model(const std::string& arch, const ModelOptions& options = {});

}  // namespace dsvd::nn
