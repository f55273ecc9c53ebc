#include "tensor/storage.h"

#include <sys/sysinfo.h>

#include <cstdint>

#include "tensor/cpu_allocator.h"

#include "tensor/error.h"

namespace dsvd {

Storage::~Storage() {
  if (data && deleter) deleter(data);
}

namespace {

// RAM plus swap: no request above it can be satisfied. Checked up front because with memory
// overcommit (Linux's default) malloc may "succeed" for any size and the process dies on first use.
size_t machine_memory_bytes() {
  static const size_t bytes = [] {
    struct sysinfo info {};
    if (sysinfo(&info) != 0) return SIZE_MAX;
    return size_t(info.totalram + info.totalswap) * size_t(info.mem_unit);
  }();
  return bytes;
}

}  // namespace

std::shared_ptr<Storage> Storage::allocate_cpu(size_t nbytes, const char* op) {
  DSVD_CHECK(nbytes <= machine_memory_bytes(), op, ": out of memory: ", nbytes, " bytes (",
             double(nbytes) / double(1ull << 30), " GiB) requested on the CPU, more than this machine's memory and swap (",
             double(machine_memory_bytes()) / double(1ull << 30), " GiB)");
  auto storage = std::make_shared<Storage>();
  size_t capacity = 0;
  void* p = cpu_allocate(nbytes, &capacity);
  DSVD_CHECK(p != nullptr, op, ": out of memory allocating ", nbytes, " bytes (",
             double(nbytes) / double(1ull << 30), " GiB) on the CPU");
  storage->data = p;
  storage->nbytes = nbytes;
  storage->device = Device::cpu();
  storage->deleter = [capacity](void* q) { cpu_free(q, capacity); };
  return storage;
}

}  // namespace dsvd
