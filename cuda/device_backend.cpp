// Registers the CUDA backend with the tensor layer (tensor/device_backend.h) at start-up: device
// memory from the caching allocator, fills, synchronisation, device queries and the profiler's
// events, all on each device's one stream.
#include "cuda/context.h"
#include "cuda/internal.h"
#include "cuda/runtime.h"

namespace dsvd::cuda {
namespace {

void* record_event(int device) {
  cudaEvent_t event = nullptr;
  DSVD_CUDA_CHECK("profile", cudaEventCreate(&event));
  DSVD_CUDA_CHECK("profile", cudaEventRecord(event, context(device).stream));
  return event;
}

double elapsed_ms(void* start, void* end) {
  float ms = 0;
  auto* e = static_cast<cudaEvent_t>(end);
  if (cudaEventSynchronize(e) != cudaSuccess ||
      cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), e) != cudaSuccess)
    return -1;
  return ms;
}

void destroy_event(void* event) { cudaEventDestroy(static_cast<cudaEvent_t>(event)); }

bool event_done(void* event) {
  const cudaError_t status = cudaEventQuery(static_cast<cudaEvent_t>(event));
  if (status == cudaErrorNotReady) return false;
  DSVD_CUDA_CHECK("event query", status);
  return true;
}

void* stream(int device) { return context(device).stream; }

DeviceBackend make_backend() {
  DeviceBackend b;
  b.name = "CUDA";
  b.allocate = &allocate;
  b.fill = &fill;
  b.synchronize = &synchronize;
  b.device_count = &cuda_device_count;
  b.summary = &cuda_summary;
  b.memory_stats = &memory_stats;
  b.reset_peak_memory_stats = &reset_peak_memory_stats;
  b.empty_cache = &empty_cache;
  b.record_event = &record_event;
  b.elapsed_ms = &elapsed_ms;
  b.destroy_event = &destroy_event;
  b.event_done = &event_done;
  b.stream = &stream;
  register_graph_functions(b);
  return b;
}

const bool registered = [] {
  register_device_backend(Device::Kind::CUDA, make_backend());
  return true;
}();

}  // namespace
}  // namespace dsvd::cuda
