// Graph nodes of reverse-mode autograd.
//
// An op that runs with grad mode on and at least one input requiring grad records a Node: the
// edges to the nodes of its inputs, the tensors its backward needs ("saved", named so an audit can
// dump them), and the backward rule itself. A leaf that requires grad is reached through an
// AccumulateGrad node, which adds the incoming gradient into the leaf's .grad.
//
// Saved tensors are detached handles (they never point back at their own node), so a graph is
// freed as soon as its outputs are: no reference cycles.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace dsvd {

class Node;

struct Edge {
  std::shared_ptr<Node> node;  // null: this input needs no gradient
  int input_nr = 0;            // which output of `node` the input was
};

class Node {
 public:
  explicit Node(std::string name);
  virtual ~Node() = default;

  // Given the gradients w.r.t. this node's outputs (one per output, zero-filled if an output got
  // none), returns the gradients w.r.t. its inputs (one per edge; undefined = none).
  virtual std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) = 0;
  // Frees the saved tensors after a backward without retain_graph.
  virtual void release_saved() { released_ = true; }

  const std::string& name() const { return name_; }
  uint64_t sequence_nr() const { return sequence_nr_; }
  bool released() const { return released_; }
  bool needs_input_grad(size_t i) const { return i < next_edges.size() && next_edges[i].node != nullptr; }

  std::vector<Edge> next_edges;  // one per input, in the op's argument order
  struct OutputMeta { Shape sizes; DType dtype; Device device; };
  std::vector<OutputMeta> outputs;  // shape, dtype and device of each output, for zero-filling
  std::string module_path;          // the module that ran the op (recorded in audit mode only)
  // Set by the engine before apply(): true when this backward is the saved tensors' last use (the
  // graph is not retained), so that a backward may free what it has consumed early.
  bool last_use = false;

 protected:
  std::string name_;
  uint64_t sequence_nr_;
  bool released_ = false;
};

// Adds gradients into a leaf's .grad.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf);
  std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) override;
  void release_saved() override {}  // nothing saved; a leaf can be reached again
  const std::shared_ptr<TensorImpl>& leaf() const { return leaf_; }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// The node every op records: a backward closure plus its named saved tensors.
class FunctionNode : public Node {
 public:
  using Backward = std::function<std::vector<Tensor>(const std::vector<Tensor>& grads, FunctionNode& self)>;
  FunctionNode(std::string name, Backward backward);
  std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) override;
  void release_saved() override;

  // What backward needs; names make an audit dump readable ("self", "other", "result", ...).
  std::vector<Tensor> saved;
  std::vector<std::string> saved_names;
  const Tensor& saved_tensor(size_t i) const;
  // By name, for ops that save a variable set (an error names the op and the missing name).
  const Tensor& saved_tensor(const std::string& name) const;
  // Frees saved tensor `name` now when this backward is its last use (last_use), else keeps it: a
  // backward that is done with a large saved tensor need not hold it through the rest of its work.
  void drop_saved_if_last_use(const std::string& name);

 private:
  Backward backward_;
};

// The edge through which gradient flows into `t`: its grad_fn, its leaf accumulator, or none.
Edge gradient_edge(const Tensor& t);

}  // namespace dsvd
