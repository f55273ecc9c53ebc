// The caching device allocator (cuda/internal.h). Sizes are rounded to a size class (512 bytes
// below 1 MiB, 64 KiB above); a freed block goes to its device's cache and the next request of
// the same class takes it back without a driver call (a training loop asks for the same sizes
// every step). Larger blocks are not handed out for smaller requests: that would hold memory no
// tensor uses. When the driver has no memory left, the cache is returned to it and the request
// tried once more.
// "allocated" counts the blocks tensors hold, "reserved" everything taken from the driver.
// Every kernel of a device runs on that device's one stream, so a block freed after the last op
// that used it was queued can be handed to the next op at once: the stream orders them.
// While the stream records a graph, blocks come from and return to that graph's own pool
// (cuda/internal.h): the same ordering holds inside the graph, and a replay finds its blocks where
// the capture left them because nobody else is given them.
#include <map>
#include <mutex>

#include "cuda/internal.h"
#include "cuda/context.h"
#include "tensor/error.h"

namespace dsvd::cuda {
namespace {

constexpr size_t kSmall = 1 << 20;

size_t size_class(size_t nbytes) {
  if (nbytes == 0) nbytes = 1;
  size_t unit = nbytes < kSmall ? 512 : (size_t(1) << 16);
  return (nbytes + unit - 1) / unit * unit;
}

struct DeviceCache {
  std::multimap<size_t, void*> free_blocks;  // size class -> block
  DeviceMemoryStats stats;
};

}  // namespace

struct GraphMemoryPool {
  int device = 0;
  std::multimap<size_t, void*> free_blocks;
  bool retired = false;  // its graph is gone: blocks freed now go to the device's cache
};

namespace {

std::mutex g_mutex;
std::map<int, DeviceCache> g_caches;
std::map<int, std::shared_ptr<GraphMemoryPool>> g_capture_pools;  // device -> pool of the capture

void release_all(int device, DeviceCache& cache) {
  DeviceGuard guard(device);
  for (auto& [size, ptr] : cache.free_blocks) {
    cudaFree(ptr);
    cache.stats.reserved -= size;
  }
  cache.free_blocks.clear();
}

void give_back(int device, void* ptr, size_t size, const std::shared_ptr<GraphMemoryPool>& pool) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceCache& cache = g_caches[device];
  (pool && !pool->retired ? pool->free_blocks : cache.free_blocks).emplace(size, ptr);
  cache.stats.allocated -= size;
}

// cudaMalloc while the calling thread's stream captures: the allocation is not part of the graph
// (it is made once, now), which the capture's thread-local mode would otherwise refuse.
cudaError_t malloc_outside_capture(void** ptr, size_t bytes) {
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  cudaThreadExchangeStreamCaptureMode(&mode);
  const cudaError_t status = cudaMalloc(ptr, bytes);
  cudaThreadExchangeStreamCaptureMode(&mode);
  return status;
}

}  // namespace

std::shared_ptr<Storage> allocate(size_t nbytes, int device, const char* op) {
  context(device);  // the device exists and is current
  const size_t want = size_class(nbytes);
  void* ptr = nullptr;
  size_t got = 0;
  std::shared_ptr<GraphMemoryPool> pool;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    DeviceCache& cache = g_caches[device];
    if (auto p = g_capture_pools.find(device); p != g_capture_pools.end()) pool = p->second;
    auto& free_blocks = pool ? pool->free_blocks : cache.free_blocks;
    auto it = free_blocks.lower_bound(want);
    if (it != free_blocks.end() && it->first == want) {
      ptr = it->second;
      got = it->first;
      free_blocks.erase(it);
      ++cache.stats.cache_hits;
    } else {
      cudaError_t status = pool ? malloc_outside_capture(&ptr, want) : cudaMalloc(&ptr, want);
      if (status != cudaSuccess && !pool) {  // no cudaFree while a graph records
        cudaGetLastError();
        release_all(device, cache);  // cached blocks of other sizes may be what is missing
        status = cudaMalloc(&ptr, want);
      }
      if (status != cudaSuccess) {
        cudaGetLastError();
        size_t free_bytes = 0, total = 0;
        cudaMemGetInfo(&free_bytes, &total);
        fail(op, ": out of GPU memory allocating ", nbytes, " bytes (", double(nbytes) / double(1ull << 30),
             " GiB) on cuda:", device, pool ? " while recording a graph" : "", " (",
             double(free_bytes) / double(1ull << 30), " GiB free of ", double(total) / double(1ull << 30),
             "; dsvd holds ", double(cache.stats.allocated) / double(1ull << 30), " GiB in tensors)");
      }
      got = want;
      cache.stats.reserved += got;
      cache.stats.peak_reserved = std::max(cache.stats.peak_reserved, cache.stats.reserved);
      ++cache.stats.driver_mallocs;
    }
    cache.stats.allocated += got;
    cache.stats.peak_allocated = std::max(cache.stats.peak_allocated, cache.stats.allocated);
  }
  auto storage = std::make_shared<Storage>();
  storage->data = ptr;
  storage->nbytes = nbytes;
  storage->device = Device::cuda(device);
  storage->deleter = [device, got, pool](void* p) { give_back(device, p, got, pool); };
  return storage;
}

std::shared_ptr<GraphMemoryPool> make_graph_memory_pool(int device) {
  auto pool = std::make_shared<GraphMemoryPool>();
  pool->device = device;
  return pool;
}

void set_capture_pool(int device, std::shared_ptr<GraphMemoryPool> pool) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (pool) g_capture_pools[device] = std::move(pool);
  else g_capture_pools.erase(device);
}

void retire_graph_memory_pool(const std::shared_ptr<GraphMemoryPool>& pool) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceCache& cache = g_caches[pool->device];
  cache.free_blocks.insert(pool->free_blocks.begin(), pool->free_blocks.end());
  pool->free_blocks.clear();
  pool->retired = true;
}

DeviceMemoryStats memory_stats(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_caches[device].stats;
}

void reset_peak_memory_stats(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceMemoryStats& s = g_caches[device].stats;
  s.peak_allocated = s.allocated;
  s.peak_reserved = s.reserved;
}

void empty_cache(int device) {
  synchronize(device);
  std::lock_guard<std::mutex> lock(g_mutex);
  release_all(device, g_caches[device]);
}

void synchronize(int device) {
  DSVD_CUDA_CHECK("synchronize", cudaStreamSynchronize(context(device).stream));
  raise_deferred_errors(device, false);
}

}  // namespace dsvd::cuda
