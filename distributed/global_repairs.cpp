#include "distributed/global_repairs.h"

#include "nn/covariance_head.h"
#include "ops/ops.h"

namespace dsvd::distributed {

ReplicaMax replica_max(const std::shared_ptr<Communicator>& communicator) {
  return [communicator](const Tensor& summary) {
    if (communicator->communicates(summary.device())) {
      communicator->all_reduce(summary, ReduceOp::Max);
      return;
    }
    Tensor host = summary.to(Device::cpu()).contiguous();
    communicator->all_reduce(host, ReduceOp::Max);
    copy_(summary, host.to(summary.device()));
  };
}

int64_t use_global_repairs(nn::Module& model, const std::shared_ptr<Communicator>& communicator) {
  int64_t n = 0;
  for (const auto& [name, m] : model.named_modules())
    if (auto* head = dynamic_cast<nn::CovarianceHead*>(m.get())) {
      head->set_repair_across_replicas(replica_max(communicator));
      ++n;
    }
  return n;
}

}  // namespace dsvd::distributed
