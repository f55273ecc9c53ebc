// A graph of device work, captured once and replayed (CUDA graphs on a CUDA device): the kernels,
// copies and library calls that `work` queues on the device are recorded instead of run, and
// replay() queues them all again with one call, so the host's cost of a step (deciding, checking
// and launching each kernel) is paid once. A replay reads and writes the same device addresses as
// the capture: inputs are copied into the tensors the capture read, outputs are read from the
// tensors it returned, and what the work decided on the host (shapes, scalars given as numbers,
// branches) is frozen. Memory allocated during the capture comes from a pool of the graph's own
// that nothing else uses while the graph lives.
//
// Random numbers: the default generator's draws made while recording are numbered from a device
// counter (recorded_draws) that each replay sets to the generator's count before it runs, and the
// generator then advances by as many draws as the recording made. A replay therefore draws the
// numbers the same step would draw eagerly at that point of the run (dropout's masks).
//
// Work that cannot be recorded refuses while capturing, naming itself: a value read back to the
// host (item(), to_vector, a copy to the CPU), a copy from host memory, a generator other than the
// default one. capture() then throws that error and the device is as it was before.
#pragma once
#include <functional>
#include <memory>

#include "tensor/device.h"
#include "tensor/tensor.h"

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
  Tensor draw_base_;             // int64 scalar on the device: the generator's count at a replay
  uint64_t draws_used_ = 0;      // the default generator's draws per replay
};

// While `device` records: the device counter that the default generator's draws are numbered
// from (an int64 scalar on the device) and the generator's count when the recording began; a
// draw made during the recording is `base + (draw − start)`. nullptr when not recording.
struct RecordedDraws {
  Tensor base;
  uint64_t start = 0;
};
const RecordedDraws* recorded_draws(Device device);

}  // namespace dsvd
