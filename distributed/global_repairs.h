// --repair-scope global: the covariance head's overflow repairs over the global batch.
//
// The reference repairs ±inf in K̃, in its K step and in ∂L/∂X with the extremes of the whole
// batch (ops/matfn/repair.h), and under DataParallel its head sees the whole global batch on one
// GPU. Here each rank holds its share: the repairs combine their per-rank summaries (a NaN flag,
// a presence flag and one extreme per site and sign: three float64 numbers) by an all-reduce max
// before replacing, so that a rank's +inf becomes the largest entry of the global batch. Each
// rank still replaces only its own entries. docs/distributed.md compares the two scopes.
#pragma once
#include <memory>

#include "distributed/communicator.h"
#include "nn/module.h"
#include "ops/matfn/repair.h"

namespace dsvd::distributed {

// The in-place max over the ranks that repair_infinities calls (staged through the CPU when the
// backend does not take the summary's device).
ReplicaMax replica_max(const std::shared_ptr<Communicator>& communicator);
// Sets it on every CovarianceHead of `model`; returns how many.
int64_t use_global_repairs(nn::Module& model, const std::shared_ptr<Communicator>& communicator);

}  // namespace dsvd::distributed
