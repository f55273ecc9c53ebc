// The CPU allocator behind Storage: 64-byte aligned blocks, with a cache for large ones.
//
// Why a cache: glibc serves blocks above its mmap threshold (128 KiB at start, raised at run time
// up to 32 MiB) with mmap and gives them back on free, and it trims the top of its heap once more
// than twice that threshold is free there. Either way a freed temporary goes back to the kernel
// and the next one of its size costs fresh page faults and kernel zeroing. With blocks under 1 MiB
// left to glibc, a float32 matrix-function layer at B = 32, n = 64 (512 KiB per (B, n, n) tensor)
// took 1,200–3,000 minor faults per forward+backward against 0–100 in float64 (1 MiB tensors,
// cached): up to 3x slower than float64 on hosts where a fault is expensive (virtual machines).
// Blocks of at least kCacheMinBytes (64 KiB) are therefore kept after free, by size (4 KiB pages
// under 1 MiB, 64 KiB granules above), and reused for a later request of the same or slightly
// smaller size (at most 1/8 larger than asked). Smaller blocks stay in glibc's heap, below its
// thresholds. The cache holds at most DSVD_CPU_CACHE_MB megabytes (default 2048; 0 disables it);
// release_cpu_cache() returns it all.
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
