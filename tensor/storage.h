// Storage: one block of bytes on one device, shared by a tensor and all of its views.
// CPU blocks are 64-byte aligned (AVX-512 loads and BLAS like it). The CUDA backend supplies its
// own allocation and deleter through the same struct.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>

#include "tensor/device.h"

namespace dsvd {

struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  std::function<void(void*)> deleter;

  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();

  // Throws dsvd::Error naming `op` and the byte count when the allocation cannot be satisfied.
  static std::shared_ptr<Storage> allocate_cpu(size_t nbytes, const char* op = "allocate");
};

}  // namespace dsvd
