#include "distributed/sync_batch_norm.h"

#include "autograd/function.h"
#include "nn/layers.h"
#include "ops/ops.h"

namespace dsvd::distributed {

Tensor all_reduce_sum(const std::shared_ptr<Communicator>& communicator, const Tensor& t) {
  Tensor out = empty(t.sizes(), t.dtype(), t.device());
  copy_(out, t);
  communicator->all_reduce(out, ReduceOp::Sum);
  return record_op("all_reduce_sum", {out}, {t}, {}, [communicator](const std::vector<Tensor>& g, FunctionNode&) {
           Tensor grad = empty(g[0].sizes(), g[0].dtype(), g[0].device());
           copy_(grad, g[0]);
           communicator->all_reduce(grad, ReduceOp::Sum);
           return std::vector<Tensor>{grad};
         })[0];
}

int64_t convert_sync_batch_norm(nn::Module& model, const std::shared_ptr<Communicator>& communicator) {
  int64_t n = 0;
  for (const auto& [name, m] : model.named_modules()) {
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m.get())) {
      bn->sum_over_replicas = [communicator](const Tensor& t) { return all_reduce_sum(communicator, t); };
      ++n;
    }
  }
  return n;
}

}  // namespace dsvd::distributed
