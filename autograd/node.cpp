#include "autograd/node.h"

#include <atomic>

#include "autograd/function.h"

namespace dsvd {

namespace {
std::atomic<uint64_t> next_sequence_nr{0};
}

Node::Node(std::string name) : name_(std::move(name)), sequence_nr_(next_sequence_nr++) {}

namespace {

// A dense, untracked tensor that is the only handle on the only view of its storage.
bool owns_its_buffer_alone(const Tensor& t) {
  const auto& impl = t.impl();
  return impl.use_count() == 1 && impl->storage.use_count() == 1 && !impl->grad_fn && !impl->requires_grad &&
         impl->offset == 0 && t.is_contiguous() && size_t(t.numel()) * itemsize(t.dtype()) == impl->storage->nbytes;
}

}  // namespace

AccumulateGrad::AccumulateGrad(std::shared_ptr<TensorImpl> leaf)
    : Node("AccumulateGrad"), leaf_(std::move(leaf)) {}

std::vector<Tensor> AccumulateGrad::apply(const std::vector<Tensor>& grad_outputs) {
  const Tensor& g = grad_outputs.at(0);
  DSVD_CHECK(g.sizes() == leaf_->sizes, "backward: gradient of shape ", shape_str(g.sizes()),
             " for a leaf of shape ", shape_str(leaf_->sizes), " (an op's backward returned a wrong shape)");
  if (!leaf_->grad && owns_its_buffer_alone(g) && g.dtype() == leaf_->dtype) {
    // Nobody else can see this buffer: adopt it instead of copying (as PyTorch steals it).
    leaf_->grad = g.impl();
    for (auto& hook : leaf_->post_accumulate_grad_hooks) hook();
    return {};
  }
  Tensor incoming = g.dtype() == leaf_->dtype ? g : g.to(leaf_->dtype);
  if (!leaf_->grad) {
    // Own the buffer: the incoming gradient may alias another tensor or be a broadcast view.
    leaf_->grad = incoming.clone().impl();
  } else {
    leaf_->grad = sum_gradients(Tensor(leaf_->grad), incoming).impl();
  }
  for (auto& hook : leaf_->post_accumulate_grad_hooks) hook();
  return {};
}

FunctionNode::FunctionNode(std::string name, Backward backward)
    : Node(std::move(name)), backward_(std::move(backward)) {}

std::vector<Tensor> FunctionNode::apply(const std::vector<Tensor>& grad_outputs) {
  DSVD_CHECK(!released_, "backward through node '", name_, "' (#", sequence_nr_,
             ") whose saved tensors were already freed: the graph was used by an earlier backward(). "
             "Pass retain_graph=true to the first backward if you need to run it twice.");
  return backward_(grad_outputs, *this);
}

void FunctionNode::release_saved() {
  saved.clear();
  released_ = true;
}

void FunctionNode::drop_saved_if_last_use(const std::string& name) {
  if (!last_use) return;
  for (size_t i = 0; i < saved_names.size(); ++i)
    if (saved_names[i] == name && i < saved.size()) saved[i] = Tensor();
}

const Tensor& FunctionNode::saved_tensor(size_t i) const {
  DSVD_CHECK(i < saved.size(), "node '", name_, "': saved tensor ", i, " does not exist (", saved.size(), " saved)");
  return saved[i];
}

const Tensor& FunctionNode::saved_tensor(const std::string& name) const {
  DSVD_CHECK(!released_, "node '", name_, "': saved tensor '", name, "' was already freed by an earlier backward()");
  for (size_t i = 0; i < saved_names.size(); ++i)
    if (saved_names[i] == name) return saved[i];
  fail("node '", name_, "': no saved tensor named '", name, "'");
}

Edge gradient_edge(const Tensor& t) {
  const auto& impl = t.impl();
  if (impl->grad_fn) return {impl->grad_fn, impl->output_nr};
  if (!impl->requires_grad) return {};
  auto acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(impl);
    acc->outputs.push_back({impl->sizes, impl->dtype, impl->storage->device});
    impl->grad_accumulator = acc;
  }
  return {acc, 0};
}

}  // namespace dsvd
