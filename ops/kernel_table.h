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
#include "tensor/memory_format.h"
#include "tensor/tensor.h"

namespace dsvd::kernels {

inline constexpr size_t kDeviceKinds = 2;  // Device::Kind::CPU, Device::Kind::CUDA

// One slot per device kind. Constant-initialised (all null) before any registration runs, so
// registrations from static initialisers in any file order are safe.
template <typename Family>
struct Table {
  static inline std::array<typename Family::Fn*, kDeviceKinds> slot{};
  // What the device's kernel takes beyond the family's baseline contract (KernelTraits).
  static inline std::array<unsigned, kDeviceKinds> traits{};
};

// Traits a registration may declare:
//   kNativeReducedFloat: the kernel computes bfloat16/float16 itself (cuDNN, cuBLAS) instead of
//                        through kernels::call's float32 widening (ops/kernels/float32_compute.h);
//   kChannelsLast:       the kernel also takes its 4-D tensors channels-last (tensor/memory_format.h),
//                        all of them in that one format; the op then keeps a channels-last input so.
enum KernelTraits : unsigned { kNativeReducedFloat = 1u << 0, kChannelsLast = 1u << 1 };

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
  return (Table<Family>::traits[size_t(kind)] & kNativeReducedFloat) != 0;
}

template <typename... Families>
bool takes_channels_last(Device::Kind kind) {
  return (((Table<Families>::traits[size_t(kind)] & kChannelsLast) != 0) && ...);
}

// The memory format an op hands its kernels (all of `Families`, e.g. a forward and its backward)
// for input x: channels-last when x is channels-last and every one of those kernels of x's device
// takes it, else contiguous (NCHW), the baseline every kernel takes.
template <typename... Families>
MemoryFormat layout_for(const Tensor& x) {
  return memory_format_of(x) == MemoryFormat::ChannelsLast && takes_channels_last<Families...>(x.device().kind)
             ? MemoryFormat::ChannelsLast
             : MemoryFormat::Contiguous;
}

template <typename Family>
struct Registration {
  Registration(Device::Kind kind, typename Family::Fn* fn, unsigned traits = 0) {
    Table<Family>::slot[size_t(kind)] = fn;
    Table<Family>::traits[size_t(kind)] = traits;
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
#define DSVD_REGISTER_KERNEL_NATIVE_REDUCED_FLOAT(Family, DeviceKind, function) \
  DSVD_REGISTER_KERNEL_WITH_TRAITS(Family, DeviceKind, function, ::dsvd::kernels::kNativeReducedFloat)
// A kernel with any KernelTraits: DSVD_REGISTER_KERNEL_WITH_TRAITS(F, CUDA, f, kernels::kChannelsLast).
#define DSVD_REGISTER_KERNEL_WITH_TRAITS(Family, DeviceKind, function, kernel_traits)                         \
  static const ::dsvd::kernels::Registration<Family> DSVD_KERNEL_CONCAT(dsvd_kernel_registration_, __LINE__)( \
      ::dsvd::Device::Kind::DeviceKind, &function, kernel_traits)
