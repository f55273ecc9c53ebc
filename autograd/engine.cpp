// The backward engine. Three steps, as in micrograd but with reference counts instead of a sort:
//  1. walk the graph from the roots and count, for every node, how many edges point at it;
//  2. start from the roots; a node runs once all of its consumers have delivered their gradient
//     (its count reaches zero), with the gradients for each of its outputs summed;
//  3. hand each input gradient along its edge, then free the node's saved tensors unless the
//     caller retains the graph.
// The pass runs with grad mode off: backward rules are ops, but their results are not recorded.
#include "autograd/engine.h"

#include "tensor/profiler.h"

#include <unordered_map>
#include <unordered_set>

#include "autograd/audit.h"
#include "autograd/autocast_mode.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/function.h"

namespace dsvd {

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  DSVD_CHECK(roots.size() == grads.size(), "backward: ", roots.size(), " tensors but ", grads.size(), " gradients");
  NoGradGuard no_grad;
  AutocastScope no_autocast(std::nullopt);  // backward ops compute in the dtypes their forward saved

  struct Pending {
    std::vector<Tensor> grads;  // one slot per output of the node
    int dependencies = 0;
  };
  std::unordered_map<Node*, Pending> pending;
  std::vector<std::shared_ptr<Node>> ready;

  auto deliver = [&](const Edge& edge, const Tensor& g) {
    Pending& p = pending[edge.node.get()];
    if (p.grads.empty()) p.grads.resize(edge.node->outputs.size());
    Tensor& slot = p.grads.at(size_t(edge.input_nr));
    slot = slot.defined() ? sum_gradients(slot, g) : g;
  };

  // 1. Count incoming edges of every reachable node.
  std::vector<Node*> stack;
  std::unordered_set<Node*> seen;
  std::vector<Edge> root_edges;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    DSVD_CHECK(root.defined(), "backward: root tensor ", i, " is undefined");
    DSVD_CHECK(root.requires_grad(), "backward: tensor ", i, " of shape ", shape_str(root.sizes()),
               " does not require grad and has no grad_fn (did an input call requires_grad_()? "
               "was it computed under NoGradGuard?)");
    Tensor g = grads[i];
    if (!g.defined()) {
      DSVD_CHECK(root.numel() == 1, "backward: the gradient can be left out only for a one-element "
                 "tensor; this one has shape ", shape_str(root.sizes()), ", pass a gradient of that shape");
      g = full(root.sizes(), 1.0, root.dtype(), root.device());
    }
    DSVD_CHECK(g.sizes() == root.sizes(), "backward: gradient of shape ", shape_str(g.sizes()),
               " for a tensor of shape ", shape_str(root.sizes()));
    Edge edge = gradient_edge(root);
    root_edges.push_back(edge);
    if (seen.insert(edge.node.get()).second) stack.push_back(edge.node.get());
    deliver(edge, g);
  }
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const Edge& next : node->next_edges) {
      if (!next.node) continue;
      pending[next.node.get()].dependencies++;
      if (seen.insert(next.node.get()).second) stack.push_back(next.node.get());
    }
  }

  // 2. Run nodes whose consumers have all delivered.
  for (const Edge& e : root_edges)
    if (pending[e.node.get()].dependencies == 0 &&
        std::find(ready.begin(), ready.end(), e.node) == ready.end())
      ready.push_back(e.node);
  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.back();
    ready.pop_back();
    Pending& p = pending[node.get()];
    std::vector<Tensor> grad_outputs = std::move(p.grads);
    grad_outputs.resize(node->outputs.size());
    for (size_t k = 0; k < grad_outputs.size(); ++k)
      if (!grad_outputs[k].defined()) grad_outputs[k] = zeros(node->outputs[k].sizes, node->outputs[k].dtype, node->outputs[k].device);

    std::vector<Tensor> grad_inputs;
    node->last_use = !retain_graph && !audit::enabled();  // the audit reads saved tensors after apply
    if (audit::enabled()) {
      {
        audit::BackwardScope in_backward;
        grad_inputs = node->apply(grad_outputs);
      }
      audit::on_backward(*node, grad_outputs, grad_inputs);
    } else if (profiling()) {
      ProfileRange range(node->name() + " backward");
      grad_inputs = node->apply(grad_outputs);
    } else {
      grad_inputs = node->apply(grad_outputs);
    }
    DSVD_CHECK(grad_inputs.size() == node->next_edges.size() || dynamic_cast<AccumulateGrad*>(node.get()),
               "backward of '", node->name(), "' returned ", grad_inputs.size(), " gradients for ",
               node->next_edges.size(), " inputs");

    // 3. Hand gradients along, then free what this node saved.
    for (size_t i = 0; i < grad_inputs.size(); ++i) {
      const Edge& next = node->next_edges[i];
      if (!next.node) continue;
      if (grad_inputs[i].defined()) deliver(next, grad_inputs[i]);
      if (--pending[next.node.get()].dependencies == 0) ready.push_back(next.node);
    }
    if (!retain_graph) node->release_saved();
  }
}

// Declared in tensor/tensor.h; defined here because the engine is the layer above the tensor.
void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  run_backward({*this}, {gradient}, retain_graph);
}

}  // namespace dsvd
