// tensor/device_backend.h: one slot per device kind, filled at start-up by the backend.
#include "tensor/device_backend.h"

#include <array>

#include "tensor/error.h"

namespace dsvd {
namespace {

constexpr size_t kKinds = 2;  // Device::Kind::CPU, Device::Kind::CUDA

// Function-local so that a backend registering from another file's static initialiser finds it
// constructed whatever the initialisation order.
std::array<const DeviceBackend*, kKinds>& slots() {
  static std::array<const DeviceBackend*, kKinds> table{};
  return table;
}

}  // namespace

const char* device_kind_name(Device::Kind kind) { return kind == Device::Kind::CPU ? "cpu" : "cuda"; }

void register_device_backend(Device::Kind kind, const DeviceBackend& backend) {
  DSVD_CHECK(kind != Device::Kind::CPU, "register_device_backend: the CPU is built in");
  slots()[size_t(kind)] = new DeviceBackend(backend);  // lives as long as the program
}

const DeviceBackend* find_device_backend(Device::Kind kind) { return slots()[size_t(kind)]; }

const DeviceBackend& device_backend(Device device, const char* what) {
  const DeviceBackend* b = find_device_backend(device.kind);
  if (!b)
    fail(what, ": dsvd was built without CUDA (configure with -Dcuda=enabled on a machine with the CUDA toolkit), so ",
         device.str(), " does not exist");
  return *b;
}

int device_count(Device::Kind kind, std::string* why_none) {
  if (kind == Device::Kind::CPU) return 1;
  const DeviceBackend* b = find_device_backend(kind);
  if (!b) {
    if (why_none) *why_none = "built without CUDA";
    return 0;
  }
  return b->device_count(why_none);
}

std::string device_summary(Device::Kind kind) {
  if (kind == Device::Kind::CPU) return "CPU";
  const DeviceBackend* b = find_device_backend(kind);
  return b ? b->summary() : "CUDA: built without CUDA";
}

void synchronize(Device device) {
  if (!device.is_cpu()) device_backend(device, "synchronize").synchronize(device.index);
}

DeviceMemoryStats memory_stats(Device device) {
  if (device.is_cpu()) return {};
  const DeviceBackend* b = find_device_backend(device.kind);
  return b ? b->memory_stats(device.index) : DeviceMemoryStats{};
}

void reset_peak_memory_stats(Device device) {
  const DeviceBackend* b = device.is_cpu() ? nullptr : find_device_backend(device.kind);
  if (b) b->reset_peak_memory_stats(device.index);
}

void empty_cache(Device device) {
  const DeviceBackend* b = device.is_cpu() ? nullptr : find_device_backend(device.kind);
  if (b) b->empty_cache(device.index);
}

bool is_capturing(Device device) {
  const DeviceBackend* b = device.is_cpu() ? nullptr : find_device_backend(device.kind);
  return b && b->is_capturing && b->is_capturing(device.index);
}

}  // namespace dsvd
