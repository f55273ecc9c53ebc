// The autocast policy: which dtype each op runs in under mixed precision (autograd/autocast_mode.h
// holds the mode). As PyTorch's autocast:
//   low precision: the products that tensor cores speed up (conv2d, linear, matmul) cast their
//                  float32 inputs to the autocast dtype; their outputs are in it;
//   float32:       ops whose accuracy needs float32 (the loss, reductions, everything of the
//                  covariance head) cast 16-bit inputs to float32;
//   any other op:  runs in its inputs' dtype (ReLU, pooling, dropout, additions, batch norm,
//                  whose statistics and parameters are float32 whatever its input).
// Kernels compute 16-bit tensors in float32 (ops/kernels/float32_compute.h). Outside an autocast
// scope nothing is cast.
#pragma once
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace dsvd::autocast {

enum class Policy { LowPrecision, Float32, InputDtype };

struct PolicyEntry {
  const char* op;
  Policy policy;
};

// The ops whose policy is not InputDtype; docs/mixed-precision.md lists them.
const std::vector<PolicyEntry>& policy_table();
Policy policy_of(const std::string& op);
const char* policy_name(Policy policy);  // "low precision", "float32", "input dtype"

// The tensor `op` computes with, for its floating input t: under autocast and by the op's policy,
// a float32 t cast to the autocast dtype (LowPrecision) or a 16-bit t cast to float32 (Float32),
// recorded like any .to() so that gradients flow back in t's dtype; t itself otherwise.
Tensor input(const char* op, const Tensor& t);

}  // namespace dsvd::autocast
