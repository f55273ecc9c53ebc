// DeviceGraph (tensor/device_graph.h): the device backend records and replays; this file only
// makes sure that a failed capture is ended before the error goes on.
#include "tensor/device_graph.h"

#include "tensor/device_backend.h"
#include "tensor/error.h"

namespace dsvd {

DeviceGraph DeviceGraph::capture(Device device, const std::function<void()>& work) {
  DSVD_CHECK(!device.is_cpu(), "graph capture: the CPU runs each op as it is called and has nothing to record; "
             "graphs need a GPU");
  const DeviceBackend& backend = device_backend(device, "graph capture");
  DSVD_CHECK(backend.begin_capture != nullptr, "graph capture: the ", backend.name, " backend cannot record graphs");
  backend.begin_capture(device.index);
  try {
    work();
  } catch (...) {
    backend.abort_capture(device.index);
    throw;
  }
  DeviceGraph g;
  g.device_ = device;
  void* made = backend.end_capture(device.index);  // throws when the capture went wrong
  g.graph_ = std::shared_ptr<void>(made, [destroy = backend.destroy_graph](void* p) { destroy(p); });
  return g;
}

void DeviceGraph::replay() const {
  DSVD_CHECK(defined(), "graph replay: this graph holds nothing (capture one first)");
  device_backend(device_, "graph replay").replay(graph_.get());
}

}  // namespace dsvd
