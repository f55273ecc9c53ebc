// DeviceGraph (tensor/device_graph.h): the device backend records and replays; this file only
// makes sure that a failed capture is ended before the error goes on.
#include "tensor/device_graph.h"

#include <map>
#include <mutex>

#include "tensor/device_backend.h"
#include "tensor/error.h"
#include "tensor/random.h"

namespace dsvd {

namespace {

std::mutex g_mutex;
std::map<std::pair<int, int>, RecordedDraws> g_recorded_draws;  // (device kind, index) of a recording

std::pair<int, int> key(Device d) { return {int(d.kind), d.index}; }

}  // namespace

const RecordedDraws* recorded_draws(Device device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_recorded_draws.find(key(device));
  return it == g_recorded_draws.end() ? nullptr : &it->second;
}

DeviceGraph DeviceGraph::capture(Device device, const std::function<void()>& work) {
  DSVD_CHECK(!device.is_cpu(), "graph capture: the CPU runs each op as it is called and has nothing to record; "
             "graphs need a GPU");
  const DeviceBackend& backend = device_backend(device, "graph capture");
  DSVD_CHECK(backend.begin_capture != nullptr, "graph capture: the ", backend.name, " backend cannot record graphs");
  Generator& generator = default_generator();
  const uint64_t start = generator.draws();
  RecordedDraws draws{full({}, double(start), DType::Int64, device), start};  // made before recording
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_recorded_draws[key(device)] = draws;
  }
  auto forget_draws = [&] {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_recorded_draws.erase(key(device));
  };
  backend.begin_capture(device.index);
  try {
    work();
  } catch (...) {
    backend.abort_capture(device.index);
    forget_draws();
    generator.set_draws(start);  // nothing ran: the draws are the eager step's to make
    throw;
  }
  forget_draws();
  DeviceGraph g;
  g.device_ = device;
  g.draw_base_ = draws.base;
  g.draws_used_ = generator.draws() - start;
  generator.set_draws(start);  // each replay, the first included, draws its own
  void* made = backend.end_capture(device.index);  // throws when the capture went wrong
  g.graph_ = std::shared_ptr<void>(made, [destroy = backend.destroy_graph](void* p) { destroy(p); });
  return g;
}

void DeviceGraph::replay() const {
  DSVD_CHECK(defined(), "graph replay: this graph holds nothing (capture one first)");
  if (draws_used_ > 0) {
    Generator& generator = default_generator();
    fill_(draw_base_, double(generator.draws()));  // queued before the graph: its draws start here
    generator.set_draws(generator.draws() + draws_used_);
  }
  device_backend(device_, "graph replay").replay(graph_.get());
}

}  // namespace dsvd
