// Module: the building block of models, as in PyTorch. A module owns named parameters (tensors
// that require grad), named buffers (state that is not trained, e.g. BatchNorm's running
// statistics) and named child modules. Names compose with dots in registration order, giving the
// same state_dict keys as torchvision ("layer1.0.conv1.weight", "bn1.running_mean",
// "features.0.weight"), so checkpoints move between dsvd and PyTorch.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace dsvd::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
class Conv2d;
class BatchNorm2d;
using ConvBatchNormPairs = std::vector<std::pair<std::shared_ptr<Conv2d>, std::shared_ptr<BatchNorm2d>>>;

class Module : public std::enable_shared_from_this<Module> {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Runs forward_impl inside this module's scope, so the audit trace knows each op's module path
  // ("layer1.0.conv1").
  Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }
  // The name this module was registered under in its parent ("" for a root).
  const std::string& local_name() const { return local_name_; }

  // Recursive, in registration order: own entries first, then each child's under "child.".
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  // Parameters then buffers per module, children after: PyTorch's state_dict order.
  NamedTensors state_dict() const;
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules(const std::string& prefix = "") const;
  int64_t parameter_count() const;
  // The (Conv2d, BatchNorm2d) pairs of this module's own forward in which the batch norm reads the
  // convolution's output and nothing else does: what evaluation may fold into one convolution
  // (nn/fold_batch_norm.h). Models declare theirs; none by default.
  virtual ConvBatchNormPairs conv_bn_pairs() const { return {}; }

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();
  // Moves every parameter and buffer to `device` in place, so that handles held elsewhere (an
  // optimizer's parameter list) follow; gradients are dropped. Like PyTorch's module.to(device).
  void to(Device device);
  const std::string& type_name() const { return type_name_; }
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

  // Replaces the value of a registered parameter or buffer in place (shape and dtype must
  // match), keeping the handles that optimizers and callers hold valid.
  void load_tensor(const std::string& dotted_name, const Tensor& value);

 protected:
  // Runs impl(x) as forward() runs forward_impl: under the module's profile range and audit scope
  // (for a layer's forward with more inputs than x, e.g. BatchNorm2d::forward_relu).
  Tensor forward_scoped(const Tensor& x, const std::function<Tensor(const Tensor&)>& impl);
  Tensor register_parameter(const std::string& name, Tensor value);
  Tensor register_buffer(const std::string& name, Tensor value);
  virtual Tensor forward_impl(const Tensor& x) = 0;

  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    check_name(name);
    module->local_name_ = name;
    children_.emplace_back(name, module);
    return module;
  }

 private:
  void check_name(const std::string& name) const;
  void collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const;
  std::string type_name_;
  std::string local_name_;
  bool training_ = true;
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

using ModulePtr = std::shared_ptr<Module>;

}  // namespace dsvd::nn
