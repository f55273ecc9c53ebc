#include "tensor/storage.h"

#include <cstdlib>

#include "tensor/error.h"

namespace dsvd {

Storage::~Storage() {
  if (data && deleter) deleter(data);
}

std::shared_ptr<Storage> Storage::allocate_cpu(size_t nbytes, const char* op) {
  constexpr size_t kAlign = 64;
  auto storage = std::make_shared<Storage>();
  size_t rounded = (nbytes + kAlign - 1) / kAlign * kAlign;
  DSVD_CHECK(rounded >= nbytes, op, ": cannot allocate ", nbytes, " bytes (size overflows)");
  if (rounded == 0) rounded = kAlign;
  void* p = std::aligned_alloc(kAlign, rounded);
  DSVD_CHECK(p != nullptr, op, ": out of memory allocating ", nbytes, " bytes (",
             double(nbytes) / (1 << 30), " GiB) on the CPU");
  storage->data = p;
  storage->nbytes = nbytes;
  storage->device = Device::cpu();
  storage->deleter = [](void* q) { std::free(q); };
  return storage;
}

}  // namespace dsvd
