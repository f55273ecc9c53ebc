// A graph of device work, captured once and replayed (CUDA graphs on a CUDA device): the kernels,
// copies and library calls that `work` queues on the device are recorded instead of run, and
// replay() queues them all again with one call, so the host's cost of a step (deciding, checking
// and launching each kernel) is paid once. A replay reads and writes the same device addresses as
// the capture: inputs are copied into the tensors the capture read, outputs are read from the
// tensors it returned, and what the work decided on the host (shapes, scalars given as numbers,
// branches) is frozen. Memory allocated during the capture comes from a pool of the graph's own
// that nothing else uses while the graph lives.
//
// Work that cannot be recorded refuses while capturing, naming itself: a value read back to the
// host (item(), to_vector, a copy to the CPU), a copy from host memory, random numbers drawn on
// the host (dropout). capture() then throws that error and the device is as it was before.
#pragma once
#include <functional>
#include <memory>

#include "tensor/device.h"

namespace dsvd {

class DeviceGraph {
 public:
  DeviceGraph() = default;
  // Records what `work` queues on `device`. Throws dsvd::Error when the device cannot record
  // graphs (the CPU, a build without CUDA) or when `work` or the capture fails.
  static DeviceGraph capture(Device device, const std::function<void()>& work);
  // Queues the recorded work again on its device (returns at once, as a kernel launch does).
  void replay() const;
  bool defined() const { return graph_ != nullptr; }
  Device device() const { return device_; }

 private:
  Device device_ = Device::cpu();
  std::shared_ptr<void> graph_;  // the backend's graph, destroyed by the backend
};

}  // namespace dsvd
