#include "nn/optim/gradient_list.h"

namespace dsvd::nn {

std::vector<Tensor> contiguous_gradients(const std::vector<Tensor>& parameters) {
  std::vector<Tensor> grads;
  grads.reserve(parameters.size());
  for (const auto& p : parameters) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (!g.is_contiguous()) {
      g = g.contiguous();
      p.set_grad(g);
    }
    grads.push_back(g);
  }
  return grads;
}

}  // namespace dsvd::nn
