// Batch norms folded into the convolutions before them, for evaluation (predict, validation):
// in evaluation a batch norm is a fixed per-channel affine map, so conv -> BN is one convolution
//   W' = W · s,  b' = (b − μ) · s + β,  s = γ / √(σ² + ε)   (per output channel; b = 0 without bias)
// with the running statistics μ, σ². One pass over memory instead of two per pair; the outputs
// agree with the unfolded model to float32 rounding.
//
// FoldBatchNorms is a scope: it folds the pairs that the model's modules declare
// (Module::conv_bn_pairs) from the current parameters and statistics, and restores the model when
// it ends. It does nothing while the model is training (the statistics are the batch's then) or
// while the audit is on (an auditor sees every layer's own output).
#pragma once
#include "nn/module.h"

namespace dsvd::nn {

class FoldBatchNorms {
 public:
  explicit FoldBatchNorms(Module& model);
  ~FoldBatchNorms();
  FoldBatchNorms(const FoldBatchNorms&) = delete;
  FoldBatchNorms& operator=(const FoldBatchNorms&) = delete;
  // How many conv -> BN pairs are folded.
  size_t folded() const { return pairs_.size(); }

 private:
  ConvBatchNormPairs pairs_;
};

}  // namespace dsvd::nn
