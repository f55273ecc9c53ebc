// --cuda-graph: each training step recorded once per batch shape as a device graph
// (tensor/device_graph.h) and replayed from then on, so that the host launches one graph per step
// instead of a few thousand kernels. The first step of a shape runs eagerly (cuDNN's algorithm
// choices, the momentum buffers and the learning rate's device copy are made there), the second
// is recorded and replayed, later ones replay. A replay computes what an eager step computes, bit
// for bit: the same kernels on the same data, the learning rate read from device memory.
//
// A run that cannot record says why in one line and trains eagerly: on the CPU, with data
// parallelism (the all-reduce waits on its own thread), the audit (it inspects tensors on the
// host); a step that fails to record (anything that reads a value back to the host) switches the
// run to eager steps from there, naming the reason.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tensor/device_graph.h"
#include "tensor/tensor.h"

namespace dsvd::train {

// What a training step leaves for the running figures (all on the model's device).
struct StepOutputs {
  Tensor loss, logits, labels;
  Tensor head_eigenvalues, head_repairs;  // undefined without a covariance head
};

class StepGraphs {
 public:
  // The whole step (forward, loss, backward, optimizer) on device tensors.
  using Step = std::function<StepOutputs(const Tensor& images, const Tensor& labels)>;

  // `why_not`: why this run cannot record its steps ("" when it can); printed once when wanted.
  StepGraphs(Device device, bool wanted, const std::string& why_not);
  // One step on this batch (host tensors).
  StepOutputs run(const Tensor& images, const Tensor& labels, const Step& step);

 private:
  struct Entry {
    int64_t eager_steps = 0;
    Tensor images, labels;  // the graph's inputs: each batch is copied into them
    StepOutputs outputs;    // the graph's outputs: a replay rewrites them
    DeviceGraph graph;
  };
  StepOutputs eager(const Tensor& images, const Tensor& labels, const Step& step) const;

  Device device_;
  bool enabled_ = false;
  std::map<std::vector<int64_t>, Entry> by_shape_;  // the images' shape
};

}  // namespace dsvd::train
