// How the tensor layer reaches a device other than the CPU without knowing it: every device
// backend (cuda/ today) registers one DeviceBackend for its kind of device when the program
// starts (cuda/device_backend.cpp). tensor/ allocates, fills and synchronises through it; the
// rest of dsvd asks it how many devices there are and what they hold. A kind nobody registered
// is "not built": its devices do not exist, and any use of one says so.
//
// The ops' kernels are not here: they live in the kernel table of ops/ (ops/kernel_table.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "tensor/device.h"
#include "tensor/storage.h"

namespace dsvd {

class Tensor;

struct DeviceMemoryStats {
  size_t allocated = 0, peak_allocated = 0;  // bytes in live tensors (rounded to size classes)
  size_t reserved = 0, peak_reserved = 0;    // bytes held from the driver, cached blocks included
  int64_t driver_mallocs = 0, cache_hits = 0;
};

struct DeviceBackend {
  const char* name = "";  // "CUDA"
  // `bytes` on device `index`; `op` names the caller in an out-of-memory error.
  std::shared_ptr<Storage> (*allocate)(size_t bytes, int index, const char* op) = nullptr;
  void (*fill)(const Tensor& out, double value) = nullptr;  // every element of `out` <- value
  void (*synchronize)(int index) = nullptr;                 // waits for the device's queued work
  int (*device_count)(std::string* why_none) = nullptr;     // 0 with the reason when none is usable
  std::string (*summary)() = nullptr;                       // one line for start-up banners
  DeviceMemoryStats (*memory_stats)(int index) = nullptr;
  void (*reset_peak_memory_stats)(int index) = nullptr;
  void (*empty_cache)(int index) = nullptr;  // returns cached, unused blocks to the driver
  // Device-side timestamps for the profiler (tensor/profiler.h): an event recorded in the
  // device's queue now, the milliseconds between two of them (waits for the later), its release.
  void* (*record_event)(int index) = nullptr;
  double (*elapsed_ms)(void* start, void* end) = nullptr;
  void (*destroy_event)(void* event) = nullptr;
  bool (*event_done)(void* event) = nullptr;  // whether the work before the event is done (no wait)
  // The device's queue (a cudaStream_t), the device made current on the calling thread: for a
  // library that queues its own work behind dsvd's kernels (NCCL, distributed/).
  void* (*stream)(int index) = nullptr;
  // Graphs (tensor/device_graph.h): what the calling thread queues on the device between
  // begin_capture and end_capture is recorded, not run; end_capture returns the graph (or throws,
  // saying why the capture failed) and replay queues all of it again on the device. abort_capture
  // ends a capture that went wrong and discards it. is_capturing: whether the device's queue
  // records right now (then a read back to the host or a copy from host memory cannot happen).
  void (*begin_capture)(int index) = nullptr;
  void* (*end_capture)(int index) = nullptr;
  void (*abort_capture)(int index) = nullptr;
  void (*replay)(void* graph) = nullptr;
  void (*destroy_graph)(void* graph) = nullptr;  // waits for its replays first
  bool (*is_capturing)(int index) = nullptr;
};

// Installs `backend` for `kind` (once, from the backend's own start-up code).
void register_device_backend(Device::Kind kind, const DeviceBackend& backend);
// The backend of `kind`, or nullptr when this build has none.
const DeviceBackend* find_device_backend(Device::Kind kind);
// The backend of `device`'s kind; throws, naming `what`, when this build has none.
const DeviceBackend& device_backend(Device device, const char* what);

// "cuda" for Device::Kind::CUDA: the word in messages and in Device::str().
const char* device_kind_name(Device::Kind kind);

// Device-neutral conveniences (the CPU answers trivially).
int device_count(Device::Kind kind, std::string* why_none = nullptr);
std::string device_summary(Device::Kind kind);  // "CUDA: built without CUDA" when not built
void synchronize(Device device);
DeviceMemoryStats memory_stats(Device device);
void reset_peak_memory_stats(Device device);
void empty_cache(Device device);
// Whether `device`'s queue is recording a graph now (never for the CPU).
bool is_capturing(Device device);

}  // namespace dsvd
