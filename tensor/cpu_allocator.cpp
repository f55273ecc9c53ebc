#include "tensor/cpu_allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace dsvd {
namespace {

constexpr size_t kAlign = 64;
constexpr size_t kCacheMinBytes = size_t(64) << 10;  // 64 KiB (see cpu_allocator.h)
constexpr size_t kPage = size_t(4) << 10;            // cached blocks under 1 MiB: 4 KiB pages
constexpr size_t kGranule = size_t(64) << 10;        // cached blocks from 1 MiB: 64 KiB granules

// The size a cached block is rounded up to (0 on overflow).
size_t cached_capacity(size_t bytes) {
  const size_t unit = bytes < (size_t(1) << 20) ? kPage : kGranule;
  const size_t rounded = (bytes + unit - 1) / unit * unit;
  return rounded < bytes ? 0 : rounded;
}

struct Cache {
  std::mutex mutex;
  std::multimap<size_t, void*> blocks;  // capacity -> block
  size_t limit;
  CpuAllocatorStats stats;

  Cache() {
    const char* env = std::getenv("DSVD_CPU_CACHE_MB");
    limit = env ? size_t(std::strtoull(env, nullptr, 10)) << 20 : size_t(2048) << 20;
  }
  ~Cache() { release(); }
  void release() {
    std::lock_guard<std::mutex> lock(mutex);
    for (auto& [size, block] : blocks) std::free(block);
    blocks.clear();
    stats.cached_bytes = 0;
  }
};

Cache& cache() {
  static Cache* instance = new Cache();  // never destroyed: tensors may be freed at exit
  return *instance;
}

}  // namespace

void* cpu_allocate(size_t nbytes, size_t* capacity) {
  size_t rounded = (nbytes + kAlign - 1) / kAlign * kAlign;
  if (rounded < nbytes) return nullptr;  // overflow
  if (rounded == 0) rounded = kAlign;
  if (rounded >= kCacheMinBytes) {
    const size_t granular = cached_capacity(rounded);
    if (granular == 0) return nullptr;
    rounded = granular;
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.blocks.lower_bound(rounded);
    if (it != c.blocks.end() && it->first <= rounded + rounded / 8) {
      *capacity = it->first;
      void* block = it->second;
      c.stats.cached_bytes -= it->first;
      c.blocks.erase(it);
      c.stats.cache_hits++;
      return block;
    }
    c.stats.cache_misses++;
  }
  void* p = std::aligned_alloc(kAlign, rounded);
  if (!p) {
    release_cpu_cache();
    p = std::aligned_alloc(kAlign, rounded);
  }
  *capacity = rounded;
  return p;
}

void cpu_free(void* block, size_t capacity) {
  if (!block) return;
  if (capacity >= kCacheMinBytes) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.stats.cached_bytes + capacity <= c.limit) {
      c.blocks.emplace(capacity, block);
      c.stats.cached_bytes += capacity;
      return;
    }
  }
  std::free(block);
}

CpuAllocatorStats cpu_allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

void release_cpu_cache() { cache().release(); }

}  // namespace dsvd
