// The global covariance pooling head (docs/matrix-functions.md §1–§6), the "representation" of the
// DSVD models: a reduction block (1×1 conv to `dim` channels without bias, BatchNorm, ReLU;
// Kaiming-normal fan_out init), covariance pooling, the matrix square root by the chosen rule,
// and the upper-triangle vectorisation. Output: (B, dim(dim+1)/2) float32.
// Parameter names follow fast-MPN-COV's ("conv_dr_block.0.weight", "conv_dr_block.1.*").
#pragma once
#include "nn/layers.h"
#include "ops/matfn/sqrtm.h"

namespace dsvd::nn {

class CovarianceHead : public Module {
 public:
  // `dim` <= 0 means no reduction block (the --pretrained setting of the reference).
  CovarianceHead(int64_t in_channels, int64_t dim, MatrixSqrtOptions sqrt, DType dtype = DType::Float64);
  Tensor forward_impl(const Tensor& x) override;
  int64_t output_dim() const { return n_ * (n_ + 1) / 2; }
  const MatrixSqrtOptions& sqrt_options() const { return pooling_.sqrt; }
  // Eigenvalues, repair counts and max |K̃| of the most recent forward/backward.
  std::shared_ptr<MatfnReport> last_report() const { return pooling_.sqrt.report; }
  // The batch the reference's overflow repairs range over (ops/matfn/repair.h): set by
  // distributed/global_repairs.h for --repair-scope global; empty (the default) is this process's.
  void set_repair_across_replicas(ReplicaMax across) { pooling_.sqrt.repair_across_replicas = std::move(across); }
  ConvBatchNormPairs conv_bn_pairs() const override;

 private:
  // conv_dr_block = Sequential(conv, bn, ReLU) for the names; the forward runs conv, then bn and the
  // ReLU as one fused op (BatchNorm2d::forward_relu).
  std::shared_ptr<Sequential> reduce_;
  std::shared_ptr<Conv2d> reduce_conv_;
  std::shared_ptr<BatchNorm2d> reduce_bn_;
  CovariancePoolingOptions pooling_;
  int64_t n_;
};

}  // namespace dsvd::nn
