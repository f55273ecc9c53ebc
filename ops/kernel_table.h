// The kernel table: which function computes an op on which kind of device.
//
// An op's entry point (ops/*.cpp) checks its arguments, allocates its outputs, then calls
//     kernels::dispatch<Family>(device)(arguments...)
// once, and records one autograd rule whatever the device. A kernel family (ops/kernels/*.h) is
// a struct with the family's `name` and its function type `Fn`: the contract every device's
// kernel fulfils (what is allocated by whom, which layouts and dtypes come in). Device kernels
// register themselves from their own files with DSVD_REGISTER_KERNEL: the CPU's in ops/cpu/,
// CUDA's in cuda/. A family that a device has no kernel for raises "no <device> kernel for
// <family>".
#pragma once
#include <array>

#include "tensor/device.h"
#include "tensor/device_backend.h"
#include "tensor/error.h"

namespace dsvd::kernels {

inline constexpr size_t kDeviceKinds = 2;  // Device::Kind::CPU, Device::Kind::CUDA

// One slot per device kind. Constant-initialised (all null) before any registration runs, so
// registrations from static initialisers in any file order are safe.
template <typename Family>
struct Table {
  static inline std::array<typename Family::Fn*, kDeviceKinds> slot{};
  // Whether the device's kernel computes bfloat16/float16 itself (cuDNN, cuBLAS) instead of
  // through kernels::call's float32 widening (ops/kernels/float32_compute.h).
  static inline std::array<bool, kDeviceKinds> native_reduced_float{};
};

template <typename Family>
bool has_kernel(Device::Kind kind) {
  return Table<Family>::slot[size_t(kind)] != nullptr;
}

template <typename Family>
typename Family::Fn& dispatch(Device device) {
  typename Family::Fn* fn = Table<Family>::slot[size_t(device.kind)];
  if (fn == nullptr) fail("no ", device_kind_name(device.kind), " kernel for ", Family::name);
  return *fn;
}

template <typename Family>
bool has_native_reduced_float(Device::Kind kind) {
  return Table<Family>::native_reduced_float[size_t(kind)];
}

template <typename Family>
struct Registration {
  Registration(Device::Kind kind, typename Family::Fn* fn, bool native_reduced_float = false) {
    Table<Family>::slot[size_t(kind)] = fn;
    Table<Family>::native_reduced_float[size_t(kind)] = native_reduced_float;
  }
};

}  // namespace dsvd::kernels

#define DSVD_KERNEL_CONCAT_(a, b) a##b
#define DSVD_KERNEL_CONCAT(a, b) DSVD_KERNEL_CONCAT_(a, b)
// At namespace scope in the kernel's file: DSVD_REGISTER_KERNEL(UnaryKernel, CPU, unary_cpu);
#define DSVD_REGISTER_KERNEL(Family, DeviceKind, function)                                                   \
  static const ::dsvd::kernels::Registration<Family> DSVD_KERNEL_CONCAT(dsvd_kernel_registration_, __LINE__)( \
      ::dsvd::Device::Kind::DeviceKind, &function)
// A kernel that takes bfloat16 and float16 tensors itself (no float32 widening around it).
#define DSVD_REGISTER_KERNEL_NATIVE_REDUCED_FLOAT(Family, DeviceKind, function)                            \
  static const ::dsvd::kernels::Registration<Family> DSVD_KERNEL_CONCAT(dsvd_kernel_registration_, __LINE__)( \
      ::dsvd::Device::Kind::DeviceKind, &function, true)
