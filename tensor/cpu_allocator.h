// The CPU allocator behind Storage: 64-byte aligned blocks, with a cache for large ones.
//
// Why a cache: glibc hands blocks of 32 MiB and more straight to mmap and back to the kernel on
// free, so every large temporary (a 2048x2048 float64 matmul result, an activation of a big
// batch) costs fresh page faults and kernel zeroing, several percent of a GEMM's time. Blocks of
// at least kCacheMinBytes are therefore kept after free, by size, and reused for a later request
// of the same or slightly smaller size (at most 1/8 larger than asked). The cache holds at most
// DSVD_CPU_CACHE_MB megabytes (default 2048; 0 disables it); release_cpu_cache() returns it all.
#pragma once
#include <cstddef>

namespace dsvd {

struct CpuAllocatorStats {
  size_t cached_bytes = 0;   // in the cache now
  size_t cache_hits = 0;     // requests served from the cache
  size_t cache_misses = 0;   // large requests that needed a fresh block
};

// Returns nullptr when the memory cannot be had (after emptying the cache and retrying).
void* cpu_allocate(size_t nbytes, size_t* capacity);
void cpu_free(void* block, size_t capacity);
CpuAllocatorStats cpu_allocator_stats();
void release_cpu_cache();

}  // namespace dsvd
