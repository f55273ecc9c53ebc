#include "tensor/storage.h"

#include "tensor/cpu_allocator.h"

#include "tensor/error.h"

namespace dsvd {

Storage::~Storage() {
  if (data && deleter) deleter(data);
}

std::shared_ptr<Storage> Storage::allocate_cpu(size_t nbytes, const char* op) {
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
