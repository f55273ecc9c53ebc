// --sync-bn: every BatchNorm2d of a model computes its training statistics over the global batch
// (nn/layers.h BatchNorm2d::sum_over_replicas), through a differentiable all-reduce: its forward
// sums a tensor over the ranks, its backward sums the incoming gradients the same way (the
// derivative of a sum over replicas, each rank holding its share of the loss).
#pragma once
#include <memory>

#include "distributed/communicator.h"
#include "nn/module.h"

namespace dsvd::distributed {

// The sum of `t` over every rank, recorded as an op ("all_reduce_sum") with that backward.
Tensor all_reduce_sum(const std::shared_ptr<Communicator>& communicator, const Tensor& t);
// Sets sum_over_replicas on every BatchNorm2d of `model`; returns how many.
int64_t convert_sync_batch_norm(nn::Module& model, const std::shared_ptr<Communicator>& communicator);

}  // namespace dsvd::distributed
