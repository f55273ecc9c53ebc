#include "autograd/function.h"

#include "autograd/audit.h"

namespace dsvd {

bool any_requires_grad(std::initializer_list<Tensor> inputs) {
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

std::vector<Tensor> record_op(const char* name, std::vector<Tensor> outputs, const std::vector<Tensor>& inputs,
                              std::vector<Saved> saved, FunctionNode::Backward backward) {
  if (audit::enabled()) audit::on_forward(name, outputs, inputs, saved);
  if (!grad_mode_enabled() || !any_requires_grad(inputs)) return outputs;
  auto node = std::make_shared<FunctionNode>(name, std::move(backward));
  if (audit::enabled()) node->module_path = audit::current_module_path();
  for (const auto& in : inputs) node->next_edges.push_back(in.defined() ? gradient_edge(in) : Edge{});
  for (auto& s : saved) {
    node->saved_names.push_back(std::move(s.name));
    node->saved.push_back(s.tensor.defined() ? s.tensor.detach() : Tensor());
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto& impl = outputs[i].impl();
    node->outputs.push_back({impl->sizes, impl->dtype, impl->storage->device});
    if (!is_floating(impl->dtype)) continue;  // indices and masks carry no gradient
    impl->requires_grad = true;
    impl->grad_fn = node;
    impl->output_nr = int(i);
  }
  return outputs;
}

}  // namespace dsvd
