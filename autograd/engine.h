// The backward engine: runs the recorded graph once, in reverse topological order.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace dsvd {

// Backpropagates from `roots`. Each gradient may be undefined for a one-element root (then 1).
// Leaves that require grad receive their gradient summed into .grad. Unless retain_graph is true,
// every visited node frees its saved tensors; running through it again throws dsvd::Error.
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph);

}  // namespace dsvd
