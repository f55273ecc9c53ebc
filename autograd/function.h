// record_op(): how an op attaches its backward rule to its result.
//
//   Tensor out = ...forward kernel...;
//   return record_op("mul", {out}, {a, b}, {{"self", a}, {"other", b}},
//       [](const std::vector<Tensor>& g, FunctionNode& n) {
//         return std::vector<Tensor>{g[0] * n.saved_tensor(1), g[0] * n.saved_tensor(0)};
//       })[0];
//
// Nothing is recorded when grad mode is off or no input requires grad. Backward closures must
// capture only shapes and scalars; tensors they need go through `saved`.
#pragma once
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace dsvd {

struct Saved {
  std::string name;
  Tensor tensor;
};

bool any_requires_grad(std::initializer_list<Tensor> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

std::vector<Tensor> record_op(const char* name, std::vector<Tensor> outputs, const std::vector<Tensor>& inputs,
                              std::vector<Saved> saved, FunctionNode::Backward backward);

// a + b for two gradients of one tensor (the engine and AccumulateGrad sum them): the `add` op,
// recorded when grad mode is on (higher-order gradients). Declared here, below the ops, and
// defined in ops/binary.cpp: autograd includes nothing from ops/.
Tensor sum_gradients(const Tensor& a, const Tensor& b);

}  // namespace dsvd
